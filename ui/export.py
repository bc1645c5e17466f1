"""A comparison as files a class can keep: a self-contained HTML page, the entity table as CSV and
a PNG picture. Pure functions of a typed `ComparisonExport`; no gradio here.

Everything that comes from a user (the text, entity strings) or from a checkpoint (labels, model
titles) is escaped with `html.escape` before it enters the HTML, and the page carries a Content
Security Policy that runs no script at all. CSV cells that a spreadsheet would read as a formula
get a leading apostrophe.

Right-to-left text keeps its direction in every file: the HTML page's text is marked dir="rtl"
(each table cell dir="auto", each entity isolated), the PNG lays a right-to-left text out right to
left, and the CSV starts with a byte-order mark, without which a spreadsheet reads UTF-8 as its
local code page and Arabic or Hebrew come out as mojibake (the text itself stays in logical order).

The PNG is drawn with Pillow (no browser, nothing downloaded): kaleido is not installed here and
matplotlib neither, while Pillow comes with gradio and lays out Arabic, Devanagari or Thai through
libraqm. Each character is drawn with the first Noto font that has a glyph for it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import html
import io
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from fusion.studies.results import csv_cell
from fusion.tagging.agreement import EntityRow, Segment
from ui.markup import EXPORT_CSS

CSV_COLUMNS = ["model", "entity", "type", "score", "start", "end", "agreement"]
PLAIN_COLOUR = "#e0e0e0"
KEEP_SECONDS = 86_400  # exported files older than a day are removed when new ones are written

_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")


@dataclass(frozen=True)
class Panel:
    """One highlighted view of the text: a model's entities, or where the models disagree."""

    title: str
    segments: tuple[Segment, ...]
    colours: dict[str, str] = field(default_factory=dict)  # label -> "#rrggbb"


@dataclass(frozen=True)
class ComparisonExport:
    """What the exports show: the text, one panel per view, and every entity."""

    text: str
    direction: str  # "ltr" or "rtl"
    summary: str  # plain text, no markup
    panels: tuple[Panel, ...]
    rows: tuple[EntityRow, ...]


@dataclass(frozen=True)
class ExportFiles:
    html: str
    csv: str
    png: str | None  # drawn only when asked for: it costs more CPU than tagging the text


def safe_colour(value) -> str:
    """A colour for a style attribute: only "#hex" passes; anything else becomes grey."""
    return value if isinstance(value, str) and _COLOUR.fullmatch(value) else PLAIN_COLOUR


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

def entity_csv(rows) -> str:
    """The entity table as CSV text, one row per entity of either model."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in CSV_COLUMNS])
    for row in rows:  # csv_cell: a spreadsheet would run "=HYPERLINK(...)" typed as an entity
        writer.writerow([csv_cell(value) for value in (row.side, row.text, row.label, row.score, row.start,
                                                       row.end, row.agreement)])
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# HTML (its style: ui/markup.py EXPORT_CSS)
# --------------------------------------------------------------------------------------------


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _panel_html(panel: Panel, direction: str) -> str:
    marks = []
    for segment in panel.segments:
        if segment.label is None:
            marks.append(_e(segment.text))
        else:
            colour = safe_colour(panel.colours.get(segment.label))
            marks.append(f'<mark style="background:{colour}">{_e(segment.text)}'
                         f'<span class="label">{_e(segment.label)}</span></mark>')
    legend = "".join(f'<li><span class="swatch" style="background:{safe_colour(colour)}"></span>'
                     f"{_e(label)}</li>" for label, colour in panel.colours.items())
    return (f"<section><h2>{_e(panel.title)}</h2>\n"
            f'<p class="text" dir="{"rtl" if direction == "rtl" else "ltr"}">{"".join(marks)}</p>\n'
            f'<ul class="legend">{legend}</ul></section>')


def _table_html(rows) -> str:
    head = "".join(f"<th>{_e(column)}</th>" for column in CSV_COLUMNS)
    # dir="auto": each cell reads in its own text's direction (an Arabic entity in an English table)
    body = "".join("<tr>" + "".join(f'<td dir="auto">{_e(value)}</td>' for value in (
        row.side, row.text, row.label, row.score, row.start, row.end, row.agreement)) + "</tr>\n"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def comparison_html(export: ComparisonExport) -> str:
    """A page that opens anywhere, offline: inline style, no script, no outside resource."""
    panels = "\n".join(_panel_html(panel, export.direction) for panel in export.panels)
    table = _table_html(export.rows) if export.rows else "<p>Neither model found an entity.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>Layer Fusion Explorer: comparison</title>\n<style>{EXPORT_CSS}</style></head>\n<body>\n"
        f"<h1>Layer Fusion Explorer: comparison</h1>\n<p>{_e(export.summary)}</p>\n{panels}\n"
        f"<h2>Entities</h2>\n{table}\n"
        f'<p class="note">{len(export.text):,} characters of text. Made by the Layer Fusion '
        "Explorer.</p>\n</body></html>\n")


# --------------------------------------------------------------------------------------------
# PNG (Pillow)
# --------------------------------------------------------------------------------------------

NOTO = Path("/usr/share/fonts/truetype/noto")
FIRST_FONTS = [NOTO / name for name in (
    "NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf",
    "NotoSansDevanagari-Regular.ttf", "NotoSansThai-Regular.ttf")] + [
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")]
BOLD_FONT = NOTO / "NotoSans-Bold.ttf"
LAST_FONTS = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
WIDTH, MARGIN = 1200, 36
TEXT_SIZE, TITLE_SIZE, LABEL_SIZE = 22, 19, 13


@functools.lru_cache(maxsize=1)
def font_paths() -> tuple[Path, ...]:
    """Fonts in the order they are tried: the common scripts first, then every other Noto Sans."""
    others = sorted(NOTO.glob("NotoSans*-Regular.ttf")) if NOTO.is_dir() else []
    ordered = list(dict.fromkeys(FIRST_FONTS + others + LAST_FONTS))
    return tuple(path for path in ordered if path.is_file())


def _first_font() -> Path | None:
    return next(iter(font_paths()), None)


def _bold_font() -> Path | None:
    return BOLD_FONT if BOLD_FONT.is_file() else _first_font()


@functools.lru_cache(maxsize=256)
def _font(path: Path | None, size: int):
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def _glyph(path: Path, size: int, char: str) -> bytes:
    image = Image.new("L", (2 * size, 2 * size))
    ImageDraw.Draw(image).text((0, 0), char, font=_font(path, size), fill=255)
    return image.tobytes()


@functools.lru_cache(maxsize=64)
def _missing_glyph(path: Path, size: int) -> bytes:
    return _glyph(path, size, "\U0010ffff")  # what the font draws for a character it lacks


@functools.lru_cache(maxsize=8192)
def font_for(char: str, size: int = TEXT_SIZE) -> Path | None:
    """The first font that has a glyph for `char` (None: Pillow's own font, if no file exists)."""
    paths = font_paths()
    if not paths:
        return None
    for path in paths:
        if _glyph(path, size, char) != _missing_glyph(path, size):
            return path
    return paths[0]  # nothing has it: the first font's box shows that a character is there


def _joins_previous(char: str) -> bool:
    """Marks and joiners are drawn with the character before them, so shaping sees both."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me", "Cf") or "\ufe00" <= char <= "\ufe0f"


def font_runs(text: str, size: int = TEXT_SIZE) -> list[tuple[str, Path | None]]:
    """`text` cut where the font that can draw it changes."""
    runs: list[tuple[str, Path | None]] = []
    for char in text:
        if runs and (char.isspace() or _joins_previous(char)):
            runs[-1] = (runs[-1][0] + char, runs[-1][1])
            continue
        path = font_for(char, size)
        if runs and runs[-1][1] == path:
            runs[-1] = (runs[-1][0] + char, path)
        else:
            runs.append((char, path))
    return runs


@dataclass
class _Piece:
    """A word (or a part of a too-long word) placed on a line."""

    runs: list[tuple[str, Path | None]]
    width: float
    space: float  # width of the spaces after it
    label: str | None
    chip: str | None = None  # the entity label drawn after the entity's last piece


def _length(runs, size: int, direction: str | None) -> float:
    return sum(_font(path, size).getlength(text, direction=direction) for text, path in runs)


def _direction(direction: str) -> str | None:
    return "rtl" if direction == "rtl" else None  # None: raqm finds each run's own direction


def _pieces(segments, direction: str, width: float) -> list[_Piece | None]:
    """Words with their labels; None marks a line break."""
    pieces: list[_Piece | None] = []
    flow = _direction(direction)
    for segment in segments:
        parts = re.findall(r"\n|[^\s]+[^\S\n]*|[^\S\n]+", segment.text)
        labelled = [index for index, part in enumerate(parts) if part.strip()]
        for index, part in enumerate(parts):
            if part == "\n":
                pieces.append(None)
                continue
            word = part.rstrip()
            runs = font_runs(word)
            space = _font(_first_font(), TEXT_SIZE).getlength(part[len(word):]) if len(part) > len(word) else 0.0
            chip = segment.label if segment.label is not None and labelled and index == labelled[-1] else None
            piece_width = _length(runs, TEXT_SIZE, flow)
            if piece_width <= width or len(word) < 2:
                pieces.append(_Piece(runs, piece_width, space, segment.label if word else None, chip))
                continue
            for position, char in enumerate(word):  # a long run without spaces (Chinese): by character
                last = position == len(word) - 1
                char_runs = font_runs(char)
                pieces.append(_Piece(char_runs, _length(char_runs, TEXT_SIZE, flow), space if last else 0.0,
                                     segment.label, chip if last else None))
    return pieces


def _wrap_plain(text: str, size: int, width: float, bold: bool = False) -> list[str]:
    font = _font(_bold_font() if bold else _first_font(), size)
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + ([line] if line else [])


class _Canvas:
    """Draws lines of coloured words top to bottom; first measures, then paints."""

    def __init__(self, direction: str):
        self.direction = direction
        self.ops: list[tuple] = []
        self.y = MARGIN

    def heading(self, text: str, size: int, bold: bool = True, colour: str = "#222") -> None:
        for line in _wrap_plain(text, size, WIDTH - 2 * MARGIN, bold):
            self.ops.append(("text", MARGIN, self.y, line, size, bold, colour))
            self.y += int(size * 1.5)

    def panel(self, panel: Panel) -> None:
        self.heading(panel.title, TITLE_SIZE)
        self.y += 8
        line_height = int(TEXT_SIZE * 2.1)
        usable = WIDTH - 2 * MARGIN
        chip_font = _font(_bold_font(), LABEL_SIZE)
        x = 0.0
        for piece in _pieces(panel.segments, self.direction, usable):
            if piece is None:
                x, self.y = 0.0, self.y + line_height
                continue
            chip = chip_font.getlength(piece.chip) + 10 if piece.chip else 0.0
            if x > 0 and x + piece.width + chip > usable:
                x, self.y = 0.0, self.y + line_height
            self.ops.append(("piece", x, self.y, piece, chip, panel.colours))
            x += piece.width + chip + piece.space
        self.y += line_height + 4
        x = MARGIN
        for label, colour in panel.colours.items():  # the legend
            self.ops.append(("swatch", x, self.y, label, colour))
            x += 28 + chip_font.getlength(label) + 24
            if x > WIDTH - MARGIN - 120:
                x, self.y = MARGIN, self.y + 26
        self.y += 48

    def paint(self) -> Image.Image:
        image = Image.new("RGB", (WIDTH, self.y + MARGIN), "white")
        draw = ImageDraw.Draw(image)
        flow = _direction(self.direction)
        chip_font = _font(_bold_font(), LABEL_SIZE)
        for op in self.ops:
            if op[0] == "text":
                _, x, y, line, size, bold, colour = op
                for text, path in font_runs(line, size):
                    font = _font(_bold_font() if bold and path == _first_font() else path, size)
                    draw.text((x, y), text, font=font, fill=colour)
                    x += font.getlength(text)
            elif op[0] == "piece":
                self._piece(draw, op, flow, chip_font)
            else:
                _, x, y, label, colour = op
                draw.rounded_rectangle((x, y + 2, x + 20, y + 22), 4, fill=safe_colour(colour))
                draw.text((x + 28, y + 3), label, font=chip_font, fill="#333")
        return image

    def _piece(self, draw, op, flow, chip_font) -> None:
        _, x, y, piece, chip, colours = op
        total = piece.width + chip
        rtl = self.direction == "rtl"
        left = MARGIN + (WIDTH - 2 * MARGIN - x - total if rtl else x)
        baseline = y + int(TEXT_SIZE * 1.15)  # one baseline for every script's font
        if piece.label is not None:
            joined = 0.0 if piece.chip else piece.space  # one box across an entity's spaces
            draw.rounded_rectangle((left - 3 - (joined if rtl else 0), y - 4,
                                    left + total + 3 + (0 if rtl else joined), y + TEXT_SIZE * 1.6), 6,
                                   fill=safe_colour(colours.get(piece.label)))
        text_left = left + chip if rtl else left
        for text, path in (reversed(piece.runs) if rtl else piece.runs):
            font = _font(path, TEXT_SIZE)
            draw.text((text_left, baseline), text, font=font, fill="#111", direction=flow, anchor="ls")
            text_left += font.getlength(text, direction=flow)
        if piece.chip:
            chip_left = left if rtl else left + piece.width
            draw.text((chip_left + 5, baseline), piece.chip, font=chip_font, fill="#333", anchor="ls")


def comparison_png(export: ComparisonExport) -> bytes:
    """The comparison as a picture: summary, then each panel's highlighted text and legend."""
    canvas = _Canvas(export.direction)
    canvas.heading("Layer Fusion Explorer: comparison", 26)
    canvas.heading(export.summary, 16, bold=False, colour="#444")
    canvas.y += 12
    for panel in export.panels:
        canvas.panel(panel)
    buffer = io.BytesIO()
    canvas.paint().save(buffer, format="PNG")  # optimize=True: 4 % smaller, 3.6 × slower
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def _prune(folder: Path, keep_seconds: float) -> None:
    cutoff = time.time() - keep_seconds
    for path in folder.glob("comparison-*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # another request removed it first
            pass


def write_exports(export: ComparisonExport, folder, keep_seconds: float = KEEP_SECONDS,
                  picture: bool = True) -> ExportFiles:
    """The files in `folder` (the PNG only with `picture`), named by the content's hash: the
    same comparison rewrites the same files instead of piling up new ones; old ones are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, keep_seconds)
    page, table = comparison_html(export), entity_csv(export.rows)
    digest = hashlib.sha1((page + table).encode("utf-8", "replace")).hexdigest()[:12]
    paths = ExportFiles(str(folder / f"comparison-{digest}.html"), str(folder / f"comparison-{digest}.csv"),
                        str(folder / f"comparison-{digest}.png") if picture else None)
    Path(paths.html).write_text(page, encoding="utf-8")
    Path(paths.csv).write_text(table, encoding="utf-8-sig")  # with its byte-order mark: see above
    if picture:
        Path(paths.png).write_bytes(comparison_png(export))
    return paths
