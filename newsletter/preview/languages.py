"""Which language version the preview shows: the `language=` of its query.

A bilingual newsletter (`languages: [cy, en]`) sends each reader the version in their
language; the preview shows any of them (`Config.offered_languages`), each rendered and
checked through the same variants as `send` (issue/variants.py). The query's tag is
matched as the subscriber list's `language` column is (`cy-GB` finds `cy`); the config's
own language reads as "" so its view is the build itself.
"""

from __future__ import annotations

from newsletter.config import Config, babel_locale, pick_text

__all__ = ["language_choices", "language_query"]

MAX_TAG = 35  # BCP 47 tags in practice; anything longer is not one of ours


def language_query(value: str, config: Config) -> tuple[str, str | None]:
    """(the tag to show, "" for the config's language; a problem to show instead, or None)."""
    value = value.strip()
    if not value:
        return "", None
    offered = config.offered_languages
    found = pick_text({tag: tag for tag in offered}, value[:MAX_TAG]) if len(value) <= MAX_TAG else None
    if found is None:
        shown = value if len(value) <= MAX_TAG else value[:MAX_TAG] + "…"
        return "", f"unknown language {shown!r}: this newsletter offers {', '.join(offered)} (`languages:` in the config)"
    return ("" if found == _main(config) else found), None


def _main(config: Config) -> str:
    """The offered tag that the config's `language` reads as (`en` for `en-GB` when `en` is listed)."""
    offered = config.offered_languages
    return pick_text({tag: tag for tag in offered}, config.language) or config.language


def language_choices(config: Config, chosen: str) -> list[tuple[str, str, bool]]:
    """(tag, label, selected) for the language selector; empty when there is one language.
    The preview's own words are English, so each language is named in English: `Welsh (cy)`."""
    offered = config.offered_languages
    if len(offered) < 2:
        return []
    main = _main(config)
    current = chosen or main
    return [("" if tag == main else tag, f"{babel_locale(tag).get_language_name('en')} ({tag})",
             tag == current) for tag in offered]
