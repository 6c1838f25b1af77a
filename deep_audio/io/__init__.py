"""Reading and writing: audio files, atomic file writes, model files."""
