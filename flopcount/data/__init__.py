"""Data shipped in the wheel: bundled Hugging Face configs and their reference counts."""
