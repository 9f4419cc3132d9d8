"""The configured `colors` -> the full light and dark palettes the email and the archive use.

An officer sets a handful of brand colours (accent, text, background, ...); every other
colour the templates need (masthead text, button text, rules, and the whole dark-mode
palette) is derived here, once, so the email, its dark-mode block, the archive's site, the
subscriber site, the confirmation mail and the contrast check all use the same values.

| what                     | light mode                                  | dark mode                   |
|--------------------------|---------------------------------------------|-----------------------------|
| masthead, buttons, rules | the accent, as given (the brand shows)      | the accent, as given        |
| their text               | white, else `text`, else black: first at AA | the same as light           |
| links                    | the accent, moved only as far as AA needs   | the same, on the dark body  |
| body text, dates, footer | `text`, `muted` as given (`check` errs)     | derived, each at AA         |

Every accent therefore works: a light brand colour such as `#ffcc00` keeps its masthead and
buttons, and only its links (and button text) move. Each light-mode change to a colour the
officer set is recorded in `Palette.adjustments`, so `check` can say what it changed
instead of refusing the colour. Text and muted colours are the officer's own choice of
reading colour, so they are used as given and `check` reports them when too faint.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.config.sections import Colors

__all__ = ["AA_CONTRAST", "Adjustment", "Palette", "Scheme", "contrast_ratio", "palette_for", "scheme_pairs"]

AA_CONTRAST = 4.5
_WHITE, _BLACK = "#ffffff", "#000000"
_DARK_BASE = "#16181c"  # near-black the dark background is tinted from
_DARK_TEXT = "#e8eaed"


@dataclass(frozen=True)
class Scheme:
    """Every colour one mode of the email uses; `on_x` is the text colour on `x`."""

    text: str
    background: str
    link: str
    muted: str
    page: str
    rule: str
    mast: str
    on_mast: str


@dataclass(frozen=True)
class Adjustment:
    """A configured colour that light mode could not use as given for `role`, and what it
    uses instead; `before` and `after` are the contrast ratios against `background`."""

    key: str  # the config key, e.g. "colors.accent"
    role: str  # what is drawn with it, e.g. "links"
    original: str
    adjusted: str
    background: str
    before: float
    after: float


@dataclass(frozen=True)
class Palette:
    light: Scheme
    dark: Scheme
    adjustments: tuple[Adjustment, ...] = ()


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def mix(color: str, other: str, amount: float) -> str:
    """`amount` of `color` blended into `other` (1 = all `color`)."""
    a, b = _rgb(color), _rgb(other)
    return _hex(tuple(x * amount + y * (1 - amount) for x, y in zip(a, b, strict=True)))  # type: ignore[arg-type]


def luminance(color: str) -> float:
    """WCAG relative luminance of a #rrggbb colour, 0 (black) to 1 (white)."""
    channels = [c / 255 for c in _rgb(color)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio between two #rrggbb colours, from 1 to 21."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _readable(color: str, background: str) -> str:
    """`color`, moved towards white (on dark) or black (on light) just far enough for AA."""
    target = _WHITE if luminance(background) < 0.18 else _BLACK
    for step in range(21):
        candidate = mix(color, target, 1 - step / 20)
        if contrast_ratio(candidate, background) >= AA_CONTRAST:
            return candidate
    return target


def _on(background: str, brand_text: str) -> str:
    """Text for a coloured band: white when it reads, else the brand's text colour, else
    black. One of white and black always reaches 4.58:1 on any colour, so this is AA."""
    for candidate in (_WHITE, brand_text):
        if contrast_ratio(candidate, background) >= AA_CONTRAST:
            return candidate
    return max((_WHITE, _BLACK), key=lambda c: contrast_ratio(c, background))


def _light_adjustments(colors: Colors, link: str, on_mast: str) -> tuple[Adjustment, ...]:
    """What light mode draws differently from the configured colours, for `check` to say."""
    found = []
    if link != colors.accent:
        found.append(Adjustment("colors.accent", "links", colors.accent, link, colors.background,
                                contrast_ratio(colors.accent, colors.background),
                                contrast_ratio(link, colors.background)))
    if on_mast not in (_WHITE, colors.text):
        found.append(Adjustment("colors.text", "masthead and button text", colors.text, on_mast,
                                colors.accent, contrast_ratio(colors.text, colors.accent),
                                contrast_ratio(on_mast, colors.accent)))
    return tuple(found)


def palette_for(colors: Colors) -> Palette:
    """Both palettes for the configured colours; light mode uses them as given except where
    links or button text would not read (AA), and says so in `adjustments`."""
    on_mast = _on(colors.accent, colors.text)
    link = _readable(colors.accent, colors.background)
    light = Scheme(text=colors.text, background=colors.background, link=link, muted=colors.muted,
                   page=colors.page, rule=mix(colors.text, colors.background, 0.18),
                   mast=colors.accent, on_mast=on_mast)
    if luminance(colors.background) < 0.18:  # the brand is dark already: keep its background
        background, page = colors.background, mix(colors.background, _BLACK, 0.7)
    else:
        background, page = mix(colors.accent, _DARK_BASE, 0.08), mix(colors.accent, _BLACK, 0.05)
    text = _readable(mix(colors.accent, _DARK_TEXT, 0.04), background)
    dark = Scheme(text=text, background=background, link=_readable(colors.accent, background),
                  muted=_readable(mix(text, background, 0.7), background), page=page,
                  rule=mix(text, background, 0.2), mast=colors.accent, on_mast=on_mast)
    return Palette(light, dark, _light_adjustments(colors, link, on_mast))


def scheme_pairs(scheme: Scheme) -> list[tuple[str, str, str]]:
    """(foreground field, background field, what it is) for every text the template draws."""
    return [
        ("text", "background", "body text"),
        ("link", "background", "links"),
        ("muted", "background", "dates and the footer"),
        ("on_mast", "mast", "the masthead and buttons"),
    ]
