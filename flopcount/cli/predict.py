"""`flopcount predict`: a model's latency and every op's, predicted from a latency profile without running it."""

from __future__ import annotations

from flopcount.cli.emit import emit
from flopcount.cli.options import (DebugOption, FormatOption, HostSpeed, HostSpeedOption, InputSizeOption, KwargsOption,
                                   LatencyProfileOption, ModelArgument, NamedInputOption, OutputFormat, SeqLenOption,
                                   TopOption, WidthOption)
from flopcount.cli.runtime import load_and_analyze, run_command


def predict(
    name: ModelArgument,
    profile: LatencyProfileOption,
    input_size: InputSizeOption = None,
    named_inputs: NamedInputOption = None,
    seq_len: SeqLenOption = None,
    kwargs: KwargsOption = None,
    host_speed: HostSpeedOption = HostSpeed.calibrated,
    top: TopOption = None,
    output_format: FormatOption = OutputFormat.table,
    width: WidthOption = None,
    debug: DebugOption = False,
) -> None:
    """Predicted latency (eager PyTorch on CPU) of the whole model and of every op, with the predictor used.

    The analysis runs on meta: nothing executes. Each op's time comes from its kernel kind's fit in the
    profile (`flopcount calibrate` makes one); the roofline time of the device profile of the same name
    (else cpu_measured) is shown beside. --top K shows the K slowest ops in tables (JSON keeps all).
    --host-speed now, on the machine the profile was calibrated on, scales it to that machine's speed now.
    """
    with run_command(debug):
        from flopcount.predict import load_profile
        from flopcount.predict import predict as predict_latency
        from flopcount.predict.profile import matching_device
        from flopcount.render import predict as R

        latency_profile = load_profile(profile)  # before the model: an unknown profile fails at once
        device, note = matching_device(latency_profile)
        report = load_and_analyze(name, input_size, kwargs, None, named_inputs, seq_len)
        speed, by_kind = 1.0, {}
        if host_speed is HostSpeed.now:
            from flopcount.predict.drift import speed_now

            reading = speed_now(latency_profile.runtime())
            speed, by_kind = reading.median, reading.by_kind
        prediction = predict_latency(report, latency_profile, host_speed=speed, host_speed_by_kind=by_kind)
        emit(output_format, {
            "table": lambda w: R.prediction_table(prediction, device, top=top, width=w, device_note=note),
            "json": lambda: R.to_json(prediction, device, device_note=note),
            "csv": lambda: R.to_csv(prediction, device, top),
            "markdown": lambda: R.to_markdown(prediction, device, top, device_note=note),
        }, width=width)
