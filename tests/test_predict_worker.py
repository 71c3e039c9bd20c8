"""KernelTimer: kernels and networks timed in a worker process, replaced once it is older than recycle_s.

Nothing here asserts a measured time: only that the worker returns one sample per config, at the thread
count asked, and that it is replaced as told.
"""

from __future__ import annotations

from flopcount.predict.archgen import CALIBRATION_SEEDS
from flopcount.predict.worker import KernelTimer

ITEMS = [("act_relu", {"numel": 4096, "module": 1}), ("binary", {"numel": 1024, "other": 1024, "inplace": 0})]


def test_the_worker_times_every_config_and_is_replaced_when_old():
    with KernelTimer(threads=1, recycle_s=0.0) as timer:  # every call is older than 0 s: a new worker each time
        first = timer.time_configs(ITEMS, rounds=2, seed=0)
        second = timer.time_configs(ITEMS[:1], rounds=3, seed=1)
        assert timer.workers_started == 2
    assert [(s.kind, s.config, s.rounds) for s in first] == [(k, c, 2) for k, c in ITEMS]
    assert [(s.kind, s.rounds) for s in second] == [("act_relu", 3)]
    assert all(0 < s.min_s <= s.median_s for s in first + second)


def test_one_worker_serves_every_call_while_young():
    with KernelTimer(threads=1, recycle_s=600.0) as timer:
        timer.time_configs(ITEMS, rounds=1, seed=0)
        networks = timer.time_networks([CALIBRATION_SEEDS[0]], rounds=1, warmup=0)
        assert timer.workers_started == 1
    # one round of 3 timed forwards (measure.time_models' default repeats)
    assert len(networks) == 1 and networks[0].repeats == 3 and networks[0].min_s > 0


def test_a_script_calling_calibrate_without_a_main_guard_gets_a_clear_error(tmp_path):
    # The spawned worker imports the calling script again; without `if __name__ == "__main__":` that
    # import calls calibrate() once more, which cannot start a process while bootstrapping: the worker
    # dies, and calibrate says why instead of concurrent.futures' BrokenProcessPool.
    import subprocess
    import sys

    script = tmp_path / "no_guard.py"
    script.write_text('from flopcount.predict import calibrate\n'
                      'calibrate("x", threads=1, budget_s=1, kinds=["act_relu"], whole_networks=False)\n')
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert 'must do so under `if __name__ == "__main__":`' in result.stderr.strip().splitlines()[-1]


def test_workers_fork_from_a_server_at_the_thread_count_asked():
    import os
    import sys

    import torch

    with KernelTimer(threads=1, recycle_s=0.0) as timer:
        assert timer.run(torch.get_num_threads) == 1
        parents = {timer.run(os.getppid) for _ in range(2)}
        assert timer.workers_started == 3
    if sys.platform.startswith("linux"):
        # forked by the fork server (one parent for every worker), not spawned by this process
        assert len(parents) == 1 and os.getpid() not in parents
