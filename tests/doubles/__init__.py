"""Protocol-level doubles of external systems (Mastodon, WebHDFS), served on 127.0.0.1 for tests."""
