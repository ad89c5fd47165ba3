"""fediscope: collect public Mastodon data into a lake and turn it into engagement analytics."""

__version__ = "0.2.0"
