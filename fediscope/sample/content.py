"""The parts of a generated status: its HTML, media attachments, link card, poll and mentions.

Mastodon sends a status body as sanitised HTML. Mentions, hashtags and links have fixed markup, reproduced
here (a mention is an ``h-card`` span around a ``u-url mention`` link; a hashtag a ``mention hashtag`` link with
``rel="tag"``; a long link is split into invisible/visible spans). Media, cards and polls copy the key sets of
the recorded entities in ``templates/``.
"""

from __future__ import annotations

from random import Random
from typing import Any

from fediscope.sample import vocab
from fediscope.sample.accounts import AccountInfo, media_path
from fediscope.sample.clock import IsoFormatter
from fediscope.sample.shapes import template

_IMAGE = template("media_image")
_VIDEO = template("media_video")
_CARD = template("card")
_POLL = template("poll")
_MEDIA_NAMES = [name for name, _ in vocab.MEDIA_TYPES]
_MEDIA_CUM = []
for _name, _weight in vocab.MEDIA_TYPES:
    _MEDIA_CUM.append((_MEDIA_CUM[-1] if _MEDIA_CUM else 0.0) + _weight)
_EXTENSIONS = {"image": "jpg", "video": "mp4", "gifv": "mp4", "audio": "mp3", "unknown": "bin"}
_ALT_TEXTS = ("A photo of a cat sleeping on a keyboard.", "Screenshot of a terminal window.",
              "Sunset over the sea, orange sky.", "A hand-drawn sketch of a mountain.", "A chart going up.")


def mention_html(account: dict[str, Any]) -> str:
    return (f'<span class="h-card" translate="no"><a href="{account["url"]}" class="u-url mention">'
            f'@<span>{account["username"]}</span></a></span>')


def mention_entity(account: dict[str, Any]) -> dict[str, Any]:
    """The Mention entity: ``id``, ``username``, ``url``, ``acct`` (the recorded key order)."""
    return {"id": account["id"], "username": account["username"], "url": account["url"], "acct": account["acct"]}


def hashtag_html(tag: str, domain: str) -> str:
    return f'<a href="https://{domain}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'


def link_html(url: str) -> str:
    rest = url.split("://", 1)[1]
    visible, hidden = rest[:30], rest[30:]
    return (f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">https://</span><span class="{"ellipsis" if hidden else ""}">{visible}</span>'
            f'<span class="invisible">{hidden}</span></a>')


def media_attachment(rng: Random, author: AccountInfo, media_id: str, home: str) -> dict[str, Any]:
    """One MediaAttachment of a random type (image, video, gifv, audio, unknown) with type-specific ``meta``."""
    r = rng.random()
    kind = next((name for name, c in zip(_MEDIA_NAMES, _MEDIA_CUM, strict=True) if r < c), "image")
    base = _VIDEO if kind in {"video", "gifv"} else _IMAGE
    domain = author.domain
    path = media_path(media_id)
    name = f"{rng.getrandbits(64):016x}"
    url = f"https://{domain}/system/media_attachments/files/{path}/original/{name}.{_EXTENSIONS[kind]}"
    preview = f"https://{domain}/system/media_attachments/files/{path}/small/{name}.jpg"
    width, height = rng.choice(((1920, 1080), (1080, 1350), (1200, 1200), (800, 600), (640, 640)))
    small = {"width": width // 4, "height": height // 4, "size": f"{width // 4}x{height // 4}",
             "aspect": round(width / height, 6)}
    if kind == "image":
        meta: dict[str, Any] = {"original": {"width": width, "height": height, "size": f"{width}x{height}",
                                             "aspect": round(width / height, 6)}, "small": small}
    elif kind in {"video", "gifv"}:
        meta = {"original": {"width": width, "height": height, "frame_rate": "30/1",
                             "duration": round(rng.uniform(2, 180), 1), "bitrate": rng.randrange(400_000, 4_000_000)},
                "small": small}
    elif kind == "audio":
        meta = {"original": {"duration": round(rng.uniform(10, 900), 2), "bitrate": 128_000}}
    else:
        meta = {}
    entity = dict.fromkeys(base)
    entity.update(
        id=media_id, type=kind, url=None if kind == "unknown" else url,
        preview_url=None if kind in {"audio", "unknown"} else preview,
        remote_url=url if kind == "unknown" or domain != home else None, preview_remote_url=None, text_url=None,
        meta=meta, description=rng.choice(_ALT_TEXTS) if rng.random() < 0.55 else None,
        blurhash=base["blurhash"] if kind in {"image", "video", "gifv"} else None,
    )
    return entity


def link_card(rng: Random, url: str, language: str | None) -> dict[str, Any]:
    """A PreviewCard for a link in the status (same keys as the recorded card)."""
    card = dict(_CARD)
    card.update(url=url, title=f"Article {url.rsplit('/', 1)[-1]}", description="An article on an example site.",
                language=language, type="video" if "video." in url else "link",
                provider_name=url.split("/")[2], provider_url=f"https://{url.split('/')[2]}", authors=[])
    return card


def poll(rng: Random, poll_id: int, created_ms: int, end_ms: int, iso: IsoFormatter,
         engagement: int) -> dict[str, Any]:
    options = rng.choice(vocab.POLL_OPTIONS)
    votes = [int(engagement * rng.random() * 2) for _ in options]
    expires_ms = created_ms + rng.choice((1, 6, 24, 72)) * 3_600_000
    entity = dict(_POLL)
    entity.update(id=str(poll_id), expires_at=iso(expires_ms), expired=expires_ms <= end_ms,
                  multiple=rng.random() < 0.2, votes_count=sum(votes), voters_count=sum(votes), voted=False,
                  own_votes=[], options=[{"title": t, "votes_count": v} for t, v in zip(options, votes, strict=True)],
                  emojis=[])
    return entity
