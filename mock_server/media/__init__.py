"""Media the fake's tasks name: audio (MP3), covers (JPEG) and where their URLs point."""
