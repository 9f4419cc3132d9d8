"""The palette (config/palette.py) over any colours an officer may set: every link and every
button text reads at WCAG AA (4.5:1) in light and dark mode, and each light-mode change to a
configured colour is recorded, so `check` can name the original and the adjusted colour."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.config.palette import AA_CONTRAST, contrast_ratio, palette_for, scheme_pairs
from newsletter.config.sections import Colors

colour = st.integers(min_value=0, max_value=0xFFFFFF).map(lambda n: f"#{n:06x}")


def _ratio(scheme: object, fg: str, bg: str) -> float:
    return contrast_ratio(getattr(scheme, fg), getattr(scheme, bg))


@settings(max_examples=400, deadline=None)
@given(accent=colour)
def test_every_accent_gives_aa_links_and_buttons_on_the_default_colours(accent: str) -> None:
    palette = palette_for(Colors(accent=accent))
    for scheme in (palette.light, palette.dark):
        for fg, bg, _ in scheme_pairs(scheme):
            assert _ratio(scheme, fg, bg) >= AA_CONTRAST, (accent, fg, bg)
    assert palette.light.mast == palette.dark.mast == accent  # the brand's band is never changed


@settings(max_examples=400, deadline=None)
@given(accent=colour, background=colour, text=colour)
def test_any_accent_on_any_background_keeps_links_and_buttons_readable(accent: str, background: str, text: str) -> None:
    """Body text is the officer's choice (checked as given); links, the masthead and buttons
    come from the accent and are adjusted, and all of dark mode is derived: all at AA."""
    palette = palette_for(Colors(accent=accent, background=background, text=text))
    assert _ratio(palette.light, "link", "background") >= AA_CONTRAST
    assert _ratio(palette.light, "on_mast", "mast") >= AA_CONTRAST
    for fg, bg, _ in scheme_pairs(palette.dark):
        assert _ratio(palette.dark, fg, bg) >= AA_CONTRAST, (accent, background, text, fg)


@settings(max_examples=200, deadline=None)
@given(accent=colour, background=colour, text=colour)
def test_each_light_mode_change_is_recorded_with_both_colours(accent: str, background: str, text: str) -> None:
    colors = Colors(accent=accent, background=background, text=text)
    palette = palette_for(colors)
    recorded = {a.role: a for a in palette.adjustments}
    if palette.light.link == accent:
        assert "links" not in recorded
    else:
        change = recorded["links"]
        assert (change.key, change.original, change.adjusted) == ("colors.accent", accent, palette.light.link)
        assert change.before < AA_CONTRAST <= change.after
    if palette.light.on_mast in ("#ffffff", text):
        assert "masthead and button text" not in recorded
    else:
        assert recorded["masthead and button text"].adjusted == palette.light.on_mast


def test_a_readable_accent_is_used_as_given() -> None:
    palette = palette_for(Colors(accent="#0b5cad"))
    assert (palette.light.link, palette.light.mast, palette.light.on_mast) == ("#0b5cad", "#0b5cad", "#ffffff")
    assert palette.adjustments == ()


def test_yellow_keeps_its_masthead_and_gets_darker_links_just_far_enough() -> None:
    palette = palette_for(Colors(accent="#ffcc00"))
    assert palette.light.mast == "#ffcc00" and palette.light.on_mast == "#1f2933"
    assert palette.light.link == "#8c7000"
    assert AA_CONTRAST <= contrast_ratio("#8c7000", "#ffffff") < 5.2  # not pushed to black
    [change] = palette.adjustments
    assert (change.original, change.adjusted, round(change.before, 1)) == ("#ffcc00", "#8c7000", 1.5)
