"""Figures as short text: “+12 (▲ 3)”, “hidden”, “—”. Shared by the card, Markdown and HTML."""

from __future__ import annotations

from bot.digests.privacy import Figure

HIDDEN = "hidden"


def hidden_note(minimum: int, comment_minimum: int) -> str:
    """Why figures read hidden, for the top of every format."""
    return (f"Groups under {minimum} show as hidden, and so do others where a total minus the shown groups would "
            f"give a hidden one away; comment themes need {comment_minimum} comments.")


def comment_themes_hidden(comment_minimum: int) -> str:
    """Hidden comment themes say why, never how many comments there were."""
    return f"hidden (they need {comment_minimum} comments)"


def number(value: float, unit: str = "") -> str:
    if unit == "h":
        return f"{value:.1f} h"
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "nps":
        return f"{value:+.0f}"
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 or abs(value) >= 10 else f"{value:.1f}"


def change(figure: Figure, unit: str = "") -> str:
    """The change against last week, or “” when there is none to show."""
    delta = figure.delta
    if delta is None:
        return ""
    if abs(delta) < 0.05:
        return "= last week"
    arrow = "▲" if delta > 0 else "▼"
    size = f"{abs(delta):.1f}" if unit == "h" else f"{abs(delta):.0f}"
    return f"{arrow} {size}{' pts' if unit in ('%', 'nps', 'score') else ''}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def show(figure: Figure, unit: str = "") -> str:
    """Value and change, “hidden” below the minimum, “—” when there is simply nothing."""
    if figure.hidden:
        return "—" if figure.absent else HIDDEN
    text = number(figure.value or 0.0, unit)
    moved = change(figure, unit)
    return f"{text} ({moved})" if moved else text
