"""``fediscope report``: account handles and instances written right to left (Arabic, Hebrew) keep their order
in the charts' labels and the text report's lines, as matplotlib's own text layout (the Unicode bidi algorithm,
libraqm) and a terminal or editor that applies that algorithm show them."""

from __future__ import annotations

import logging
import unicodedata
import warnings

import pytest
from report_text import unwrapped

from fediscope import analysis
from fediscope.console import FSI, PDI
from fediscope.report import build_report
from fediscope.store.port import open_store

ARABIC_HANDLE = "\u0645\u0631\u062d\u0628\u0627"  # مرحبا
HEBREW_HANDLE = "\u05e9\u05dc\u05d5\u05dd"  # שלום
HEBREW_INSTANCE = "\u05d3\u05d5\u05d2\u05de\u05d4.example"  # דוגמה.example (an IDN, as a server may send it)

#: (account key, instance) with privacy off, the key a handle: RTL user and LTR instance, RTL user and RTL instance
ACCOUNTS = [(f"{ARABIC_HANDLE}@mastodon.social", "mastodon.social"),
            (f"{HEBREW_HANDLE}@example.org", "example.org"),
            (f"{ARABIC_HANDLE}@{HEBREW_INSTANCE}", HEBREW_INSTANCE)]


def _visual_xs(text: str) -> list[tuple[str, float]]:
    """Each character of ``text`` with the x where matplotlib draws its glyph (its layout: bidi, shaping)."""
    from matplotlib import font_manager
    from matplotlib._text_helpers import layout

    font = font_manager.get_font([font_manager.findfont("DejaVu Sans")])
    font.set_size(12, 72)
    return [(item.char, item.x) for item in layout(text, font)]


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return "arabic" if name.startswith("ARABIC") else "hebrew" if name.startswith("HEBREW") else "other"


def _handle_left_of_instance(text: str, instance_chars: set[str]) -> bool:
    """Whether every glyph of the (Arabic or Hebrew) user part is drawn left of every glyph of the instance."""
    handle_script = "arabic" if ARABIC_HANDLE[0] in text else "hebrew"
    xs = _visual_xs(text)
    handle = [x for char, x in xs if _script(char) == handle_script and char not in instance_chars]
    instance = [x for char, x in xs if char in instance_chars and char.isalpha()]
    assert handle and instance, text
    return max(handle) < min(instance)


def _store(tmp_path, accounts):
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("top_accounts_by_followers"), [
        {"account_key": key, "instance": instance, "followers_count": 1000 - i, "following_count": 1,
         "statuses_count": 2, "bot": False} for i, (key, instance) in enumerate(accounts)])
    return store


def _drawn_labels(monkeypatch) -> list[str]:
    """The y tick labels of each top-accounts chart as matplotlib draws them (read once the figure is saved)."""
    from matplotlib.figure import Figure

    labels: list[str] = []
    save = Figure.savefig

    def savefig(self, *args, **kwargs):
        result = save(self, *args, **kwargs)
        if self.axes and self.axes[0].get_xlabel() == "followers":
            labels.extend(tick.get_text() for tick in self.axes[0].get_yticklabels())
        return result

    monkeypatch.setattr(Figure, "savefig", savefig)
    return labels


def test_a_right_to_left_handle_is_drawn_before_its_instance_with_no_missing_glyph(tmp_path, monkeypatch, caplog):
    """Was: matplotlib laid ``مرحبا  (mastodon.social)`` out right to left (its first strong character is Arabic),
    so the bar read "(mastodon.social)  ابحرم", the instance first; with a Hebrew instance too, the two joined."""
    labels = _drawn_labels(monkeypatch)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, "fediscope.charts"):
        warnings.simplefilter("always")
        report = build_report(_store(tmp_path, ACCOUNTS), tmp_path / "charts")
    assert [p.name for p in report.charts] == ["top_accounts.png"]
    assert not [w for w in caught if "Glyph" in str(w.message)], [str(w.message) for w in caught]
    assert not [r for r in caplog.records if "boxes" in r.getMessage()]
    assert len(labels) == 3
    for (_, instance), text in zip(reversed(ACCOUNTS), labels, strict=True):  # largest at the top: reversed
        assert text.count(FSI) == text.count(PDI) >= 1, text
        assert _handle_left_of_instance(text, set(instance)), text


def test_the_isolates_take_no_room_and_draw_no_box_in_a_real_agg_rendering():
    """A label whose order the isolates do not change is drawn pixel for pixel as without them: matplotlib (HarfBuzz)
    draws nothing for them, although DejaVu Sans has no glyph for U+2068/U+2069."""
    import numpy as np
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fediscope.charts import _font_families, account_label

    def pixels(text: str):
        with rc_context({"font.family": _font_families(), "text.parse_math": False}), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            figure = Figure(figsize=(4, 1), dpi=100)
            figure.text(0.05, 0.5, text)
            canvas = FigureCanvasAgg(figure)
            canvas.draw()
        assert not [w for w in caught if "Glyph" in str(w.message)]
        return np.asarray(canvas.buffer_rgba()).copy()

    instance = HEBREW_INSTANCE.split(".")[0]
    text = account_label("user", instance)  # left to right from its first letter: the isolates change no order
    assert text == f"user  ({FSI}{instance}{PDI})"
    assert (pixels(text) == pixels(text.replace(FSI, "").replace(PDI, ""))).all()


@pytest.mark.parametrize("sent", ["\u202e", "\u2069", "\u2066", "\u200f"])
def test_a_bidi_control_a_server_sent_is_an_escape_and_cannot_end_or_undo_the_isolate(sent):
    """The isolates are fediscope's, added after the escaping: a server's override, its PDI (to close an isolate
    early) or its RLM are shown as escapes, and the only bidi controls left in the label are the balanced pairs."""
    from fediscope.charts import account_label
    from fediscope.report import format_value

    key = f"{ARABIC_HANDLE}{sent}x"
    for text in (account_label(key, "mastodon.social"), format_value("account_key", f"{key}@mastodon.social")):
        assert f"\\u{ord(sent):04x}" in text and sent not in text.replace(FSI, "").replace(PDI, "")
        assert text.startswith(FSI) and text.count(FSI) == 1 and text.count(PDI) == 1, text
        assert _handle_left_of_instance(text, set("mastodon.social")), text


def test_a_text_report_line_with_a_right_to_left_handle_reads_left_to_right(tmp_path):
    """Was: a line whose first letter was Arabic was laid out right to left by the bidi algorithm (an editor, a
    terminal that applies it): its columns read from the right, the handle's instance before its user."""
    text = unwrapped(build_report(_store(tmp_path, ACCOUNTS[:1]), charts=False).text())
    line = next(line for line in text.splitlines() if line.split()[:1] == ["1"])
    assert line.split()[1] == f"{FSI}{ARABIC_HANDLE}{PDI}@mastodon.social", line
    xs = _visual_xs(line)
    # the ranking is the first column seen, at the left
    assert min((c for c in xs if not c[0].isspace()), key=lambda c: c[1])[0] == "1"
    assert _handle_left_of_instance(line, set("mastodon.social")), line
    # the isolates take no column: the table stays aligned
    header = next(h for h in text.splitlines() if h.startswith("ranking"))
    assert header.index("instance") == line.replace(FSI, "").replace(PDI, "").index("  mastodon.social") + 2


ARABIC_TAG = "\u0641\u0646"  # فن ("art"): generated, no recorded status in tests/data has a right-to-left tag


def test_each_top_tag_of_a_day_is_isolated_and_its_count_stays_outside(tmp_path):
    """Was: the day's ``top_tags`` text was isolated as one, so with an Arabic tag first the whole of it read right
    to left: the tag's count was drawn left of it (beside the next tag) and the tags came in reverse."""
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("hashtags_daily"), [
        {"day": "2024-05-01", "tag": tag, "toots": toots, "accounts": 1, "engagement_total": 0,
         "engagement_mean": 0.0} for tag, toots in ((ARABIC_TAG, 5), ("python", 3), (HEBREW_HANDLE, 2))])
    text = build_report(store, charts=False).text()
    line = next(line for line in text.splitlines() if line.startswith("2024-05-01"))
    tags = f"{FSI}#{ARABIC_TAG}{PDI} (5), #python (3), {FSI}#{HEBREW_HANDLE}{PDI} (2)"
    assert line.endswith(tags), line
    xs = dict(_visual_xs(tags))  # each character (all distinct here but the separators) where it is drawn
    assert max(xs[c] for c in ARABIC_TAG) < xs["5"] < xs["p"] < xs["3"] < min(xs[c] for c in HEBREW_HANDLE) < xs["2"]


def test_a_top_tag_cut_by_the_column_width_keeps_its_ellipsis_inside_its_isolate():
    from fediscope.report import TEXT_WIDTHS, format_value

    text = format_value("top_tags", analysis.TagUses([("python", 3), (ARABIC_TAG * 40, 2)]))
    assert text.startswith("#python (3), ") and text.endswith(f"\u2026{PDI}"), text
    assert text.count(FSI) == text.count(PDI) == 1
    assert len(text.replace(FSI, "").replace(PDI, "")) == TEXT_WIDTHS["top_tags"]
