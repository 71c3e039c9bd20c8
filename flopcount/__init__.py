"""flopcount: params, FLOPs and memory access cost (MAC) of PyTorch models, layer by layer."""
