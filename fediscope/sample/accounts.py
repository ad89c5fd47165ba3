"""The accounts of the sample corpus: who posts, how much, and how many people follow them.

Follower counts on the fediverse are heavy-tailed (most accounts have a few dozen followers, a handful have
tens of thousands): they are drawn log-normally with a wide spread, correlated with how active an account is.
Activity (the chance an account wrote a given status) is log-normal too, so a few accounts write a large share
of the statuses. Bots post often and get little engagement; groups mostly boost. A few accounts opted out of
indexing (``noindex: true`` or ``#nobot`` in their bio) so the privacy policy's opt-out path is exercised.

Every account has exactly the keys of the recorded account template (``templates/account.json``). ``acct`` is
written from the point of view of the ``home`` instance: ``user`` for its own accounts, ``user@domain`` for
accounts of the other instances, as a real server renders remote accounts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from random import Random
from typing import Any

from fediscope.sample import vocab
from fediscope.sample.clock import IsoFormatter, iso_date
from fediscope.sample.shapes import account_keys, template
from fediscope.timestamps import snowflake

#: The first Mastodon instances appeared in 2016; account creation dates start there.
EPOCH_MS = 1_459_468_800_000  # 2016-04-01T00:00:00Z


@dataclass
class AccountInfo:
    """One generated account plus what the status generator needs about it (kept out of the JSON)."""

    entity: dict[str, Any]
    domain: str
    language: str | None
    activity: float
    kind: str  # "person" | "bot" | "group"
    emojis: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return self.entity["id"]


def instance_weights(n: int) -> list[float]:
    """Instance sizes follow a Zipf-like law too: the first instance is the biggest."""
    raw = [1.0 / (i + 1) ** 0.9 for i in range(n)]
    total = sum(raw)
    return [w / total for w in raw]


def instance_language(index: int) -> str:
    """The language each instance leans towards (the first is English-speaking, the next German …)."""
    return ("en", "de", "fr", "ja", "nl", "es", "pt", "it", "ko", "pl")[index % 10]


@cache
def custom_emoji(shortcode: str, domain: str) -> dict[str, Any]:
    """A CustomEmoji entity (``shortcode``, ``url``, ``static_url``, ``visible_in_picker``) of an instance.

    One shared dict per (shortcode, instance), like the accounts: treat it as read-only."""
    folder = f"{hash_text(shortcode) % 1000:03d}"
    url = f"https://{domain}/system/custom_emojis/images/000/000/{folder}/original/{shortcode}.png"
    return {"shortcode": shortcode, "url": url, "static_url": url.replace("/original/", "/static/"),
            "visible_in_picker": True}


def hash_text(text: str) -> int:
    """A stable hash (Python's ``hash`` of a str changes between processes)."""
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) & 0xFFFFFFFF
    return value


def media_path(snowflake_id: str) -> str:
    """Mastodon stores files under the id split in groups of three digits: ``117/020/565/966/271/181``."""
    padded = snowflake_id.zfill((len(snowflake_id) + 2) // 3 * 3)
    return "/".join(padded[i:i + 3] for i in range(0, len(padded), 3))


def build_accounts(rng: Random, n: int, instances: tuple[str, ...], home: str, end_ms: int,
                   start_ms: int, *, existing: Sequence[AccountInfo] = (),
                   joined_ms: int | None = None) -> list[AccountInfo]:
    """``n`` accounts spread over ``instances`` (Zipf-like sizes), created before ``start_ms``.

    With ``existing`` (accounts built before: a corpus's, when a next day brings new ones), the new accounts take
    none of their ids nor of their user names on an instance; with ``joined_ms`` they were all created then (on
    that day) rather than before ``start_ms``."""
    if n < 1:
        raise ValueError("the corpus needs at least one account")
    keys = account_keys()
    base = template("account")
    approval = base["feature_approval"]
    weights = instance_weights(len(instances))
    cum = [sum(weights[: i + 1]) for i in range(len(weights))]
    languages = [lang for lang in vocab.LANGUAGES if lang is not None]
    lang_weights = [vocab.LANGUAGES[lang][0] for lang in languages]
    iso = IsoFormatter()
    used: dict[str, set[str]] = {d: set() for d in instances}
    used_ids: set[int] = set()
    for info in existing:
        used.setdefault(info.domain, set()).add(info.entity["username"])
        used_ids.add(int(info.id))
    first = len(existing)  # a name taken gets its index as suffix: above every index the existing ones used
    out: list[AccountInfo] = []
    for i in range(first, first + n):
        r = rng.random()
        domain_index = next((k for k, c in enumerate(cum) if r < c), len(instances) - 1)
        domain = instances[domain_index]
        roll = rng.random()
        kind = "bot" if roll < 0.04 else "group" if roll < 0.05 else "person"
        username = _username(rng, kind, used[domain], i)
        drawn = rng.random()
        created_ms = joined_ms if joined_ms is not None else start_ms - 1 - int((start_ms - EPOCH_MS) * drawn ** 1.6)
        account_id = snowflake(created_ms, rng.getrandbits(16))
        while account_id in used_ids:
            account_id += 1
        used_ids.add(account_id)
        sid = str(account_id)
        z_activity = rng.gauss(0.0, 1.0)
        activity = math.exp(1.3 * z_activity) * (3.0 if kind == "bot" else 2.0 if kind == "group" else 1.0)
        z_followers = 0.5 * z_activity + math.sqrt(0.75) * rng.gauss(0.0, 1.0)
        followers = int(math.exp(3.4 + 2.15 * z_followers))
        language = (instance_language(domain_index) if rng.random() < 0.6
                    else rng.choices(languages, lang_weights)[0])
        emojis: list[dict[str, Any]] = []
        display_name = _display_name(rng, kind, username)
        if rng.random() < 0.08:
            code = rng.choice(vocab.CUSTOM_EMOJIS)
            display_name += f" :{code}:"
            emojis.append(custom_emoji(code, domain))
        elif rng.random() < 0.1:
            display_name += " " + rng.choice(vocab.UNICODE_EMOJIS)
        opt_out_roll = rng.random()
        noindex = opt_out_roll < 0.02
        note = (rng.choice(vocab.OPT_OUT_BIOS) if 0.02 <= opt_out_roll < 0.035
                else vocab.BOT_BIO if kind == "bot" else rng.choice(vocab.BIOS))
        has_avatar = rng.random() < 0.75
        avatar = (f"https://{domain}/system/accounts/avatars/{media_path(sid)}/original/{rng.getrandbits(64):016x}.png"
                  if has_avatar else f"https://{domain}/avatars/original/missing.png")
        header = (f"https://{domain}/system/accounts/headers/{media_path(sid)}/original/{rng.getrandbits(64):016x}.jpg"
                  if rng.random() < 0.5 else f"https://{domain}/headers/original/missing.png")
        discoverable_roll = rng.random()
        entity = dict.fromkeys(keys)
        entity.update(
            id=sid, username=username, acct=username if domain == home else f"{username}@{domain}",
            display_name=display_name, locked=rng.random() < 0.05, bot=kind == "bot",
            discoverable=True if discoverable_roll < 0.75 else False if discoverable_roll < 0.9 else None,
            indexable=rng.random() < 0.65 and not noindex, group=kind == "group",
            created_at=iso(created_ms - created_ms % 86_400_000), note=f"<p>{note}</p>",
            url=f"https://{domain}/@{username}", uri=f"https://{domain}/users/{username}",
            avatar=avatar, avatar_static=avatar, avatar_description="", header=header, header_static=header,
            header_description="", followers_count=followers,
            following_count=int(math.exp(rng.gauss(4.3, 1.3))),
            statuses_count=1 + int(math.exp(rng.gauss(5.5, 1.8)) * (3 if kind == "bot" else 1)),
            last_status_at=iso_date(end_ms - 1 - int(rng.random() ** 3 * 5 * 86_400_000)),
            hide_collections=rng.choice((None, False, True)), show_media=base["show_media"],
            show_media_replies=base["show_media_replies"], show_featured=base["show_featured"], noindex=noindex,
            feature_approval={k: list(v) if isinstance(v, list) else v for k, v in approval.items()},
            emojis=emojis, roles=[], fields=_fields(rng, domain, username),
        )
        out.append(AccountInfo(entity, domain, language, activity, kind, emojis))
    return out


def _username(rng: Random, kind: str, used: set[str], index: int) -> str:
    if kind == "bot":
        base = f"{rng.choice(vocab.BOT_NAMES)}bot"
    elif kind == "group":
        base = rng.choice(vocab.GROUP_NAMES)
    elif rng.random() < 0.5:
        base = f"{rng.choice(vocab.FIRST_NAMES).lower()}_{rng.choice(vocab.USER_WORDS)}"
    else:
        base = f"{rng.choice(vocab.USER_WORDS)}{rng.choice(vocab.USER_WORDS)}"
    base = base.encode("ascii", "ignore").decode() or "user"
    name = base if base not in used else f"{base}{index}"
    used.add(name)
    return name


def _display_name(rng: Random, kind: str, username: str) -> str:
    if kind == "bot":
        return username.replace("bot", " bot").title()
    if kind == "group":
        return f"{username.title()} group"
    if rng.random() < 0.15:
        return ""
    return f"{rng.choice(vocab.FIRST_NAMES)} {rng.choice(vocab.USER_WORDS).title()}"


def _fields(rng: Random, domain: str, username: str) -> list[dict[str, Any]]:
    count = rng.choice((0, 0, 0, 1, 2, 3))
    names = ("Website", "Pronouns", "Location", "Blog")
    values = (f"https://{username}.example.net", "they/them", "Somewhere", f"https://blog.example.org/{username}")
    return [{"name": names[k], "value": values[k], "verified_at": None} for k in range(count)]
