"""Media the fake serves for its clips: audio (MP3) and covers (JPEG), made from the clip id."""
