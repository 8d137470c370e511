"""What carpd tells operators: the typed status document and its renderings (explain,
metrics), and the journald MESSAGE_IDs."""
