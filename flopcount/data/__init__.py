"""Files shipped inside the package (read with importlib.resources): device profiles, the zoo's references,
JSON schemas, bundled Hugging Face configs."""
