"""Image captioning: images in, captions out; the task, its data readers, the shapes data."""
