"""Captioned images from the layouts people have: one :class:`CaptionedImage` per image, with
all of its reference captions (BLEU scores against every one of them).

Layouts (``task.layout``; ``data.train``/``validation``/``test`` name the files, ``data.name`` a
Hugging Face dataset):

- ``flickr``: Flickr8k/Flickr30k's token file, lines ``image.jpg#0<TAB>caption``. With
  ``task.captions_file`` set to it, ``data.train`` etc. are split lists (``Flickr_8k.
  trainImages.txt``: one image name a line); without, ``data.train`` is the token file itself.
- ``coco``: COCO captions JSON: ``images`` (``id``, ``file_name``) and ``annotations``
  (``image_id``, ``caption``).
- ``csv`` / ``tsv`` / ``jsonl``: a header row (or JSON objects) with ``task.image_column`` and
  the ``task.caption_columns``; a cell holds one caption (a JSON value may be a list of them);
  rows naming the same image add to its captions (``image,caption`` files, one row a caption).
- ``auto``: ``flickr`` when ``task.captions_file`` is set, else by the file's suffix.
- ``data.name``: a dataset (``save_to_disk`` folder, or any ``datasets.load_dataset`` name) with
  an image column (``Image`` feature or path strings) and caption column(s).

Image paths are relative to ``task.image_root`` (default: the captions file's folder). Nothing
here opens an image: :mod:`plugins.tasks.captioning.images` decodes them, naming ``where``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pipeline.config import DataConfig
from pipeline.data import Splits, read_splits, split_encoding
from pipeline.errors import DataError
from pipeline.textfiles import json_rows, location, numbered_lines, read_text

__all__ = [
    "LAYOUTS",
    "CaptionReadOptions",
    "CaptionedImage",
    "ImageSource",
    "cache_key",
    "dataset_captions",
    "file_captions",
    "option_problems",
    "read_caption_splits",
]

Layout = Literal["auto", "flickr", "coco", "csv", "tsv", "jsonl"]
LAYOUTS: tuple[str, ...] = ("auto", "flickr", "coco", "csv", "tsv", "jsonl")
SUFFIXES = {".txt": "flickr", ".token": "flickr", ".json": "coco", ".jsonl": "jsonl"}
SUFFIXES.update({".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"})
ImageSource = Path | bytes
"""An image file, or the encoded bytes of one (a dataset's ``Image`` column)."""


class CaptionedImage(NamedTuple):
    """One image and its reference captions (stripped, in the data's order)."""

    image: ImageSource
    captions: tuple[str, ...]
    name: str
    """The image's name in the data (file name, or ``row N``): shown in reports."""
    where: str
    """Where the data named it (``data.train: file 'x.csv', line 3``): starts error messages."""


@dataclass
class CaptionReadOptions:
    """The captioning data's ``task.*`` keys (the task's Options subclass this dataclass)."""

    layout: Layout = "auto"
    """How data.train/validation/test are laid out: flickr, coco, csv, tsv, jsonl (or auto)."""
    image_column: str = "image"
    """csv/tsv/jsonl and datasets: the column of the image (a path, or a dataset Image)."""
    caption_columns: list[str] = field(default_factory=lambda: ["caption"])
    """csv/tsv/jsonl and datasets: the column(s) holding captions (a cell may hold a list)."""
    image_root: str | None = None
    """Folder that image paths are relative to; null: the folder of the captions file."""
    captions_file: str | None = None
    """flickr: the token file, when data.train/validation/test are split lists of names."""
    skip_bad_images: bool = False
    """Skip (and count) images that are missing or do not decode, instead of failing."""


def option_problems(options: CaptionReadOptions, data: DataConfig) -> list[str]:
    """Problems of the reading options that need no file (the task's ``config_problems``)."""
    problems = []
    columns = options.caption_columns
    if not columns or not all(isinstance(column, str) and column for column in columns):
        problems.append(
            f"task.caption_columns: expected a non-empty list of column names, got {columns!r}"
        )
    if options.captions_file is not None:
        if options.layout not in ("auto", "flickr"):
            problems.append(
                f"task.captions_file: only the flickr layout reads it (task.layout is "
                f"{options.layout!r}); set task.captions_file=null or task.layout=flickr"
            )
        if data.name is not None:
            problems.append(
                "task.captions_file: a Flickr token file goes with split lists in "
                "data.train/validation/test, not with a dataset (data.name); set one of them "
                "to null"
            )
    return problems


# ----------------------------------------------------------------------------- splits


def read_caption_splits(
    data: DataConfig, options: CaptionReadOptions, seed: int
) -> Splits[CaptionedImage]:
    """Captioned images of train, validation and test, from files or ``data.name``; the
    missing validation/test carved from train with ``seed`` (``pipeline.data.read_splits``)."""
    tokens: dict[str, list[str]] = {}  # the flickr token file, read once for all split lists

    def read_file(path: Path, key: str) -> list[CaptionedImage]:
        return file_captions(path, key, options, split_encoding(data, key), tokens)

    def read_dataset(split: str, dataset: Any) -> list[CaptionedImage]:
        return dataset_captions(split, dataset, options, str(data.name))

    return read_splits(
        data, seed, read_file, read_dataset, noun="captioned images", kind="a captions file"
    )


def file_captions(
    path: Path,
    key: str,
    options: CaptionReadOptions,
    encoding: str = "utf-8",
    tokens: dict[str, list[str]] | None = None,
) -> list[CaptionedImage]:
    """The captioned images of one file; ``key`` (``data.train`` ...) names it in errors.

    ``tokens``: a cache of the flickr token file's captions, filled on first use.
    """
    path = Path(path).expanduser()
    layout = _layout(path, options, key)
    root = _image_root(options, path)
    if layout == "flickr" and options.captions_file is not None:
        return _flickr_split(path, key, options, encoding, root, tokens)
    text = read_text(path, encoding, key, kind="a captions file")
    where = location(key, path)
    if layout == "flickr":
        return [
            CaptionedImage(_image_path(root, name), tuple(caps), name, f"{where}: image {name!r}")
            for name, caps in _flickr_tokens(text, where).items()
        ]
    if layout == "coco":
        return _coco(text, root, where)
    rows = json_rows(text, where) if layout == "jsonl" else _delimited_rows(text, where, layout)
    return _group_rows(rows, options, root)


def _layout(path: Path, options: CaptionReadOptions, key: str) -> str:
    if options.layout != "auto":
        return options.layout
    if options.captions_file is not None:
        return "flickr"
    layout = SUFFIXES.get(path.suffix.lower())
    if layout is None:
        raise DataError(
            f"{key}: cannot tell the layout of {str(path)!r} from its suffix "
            f"{path.suffix or '(none)'!r}; set task.layout to one of {', '.join(LAYOUTS[1:])}"
        )
    return layout


def _image_root(options: CaptionReadOptions, captions: Path) -> Path:
    if options.image_root is None:
        return captions.parent
    root = Path(options.image_root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"task.image_root: {options.image_root!r} is not a folder (relative paths are read "
            f"from {Path.cwd()}); set it to the folder that holds the images"
        )
    return root


def _image_path(root: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path


def _clean(caption: str) -> str:
    return " ".join(caption.split())


# ----------------------------------------------------------------------------- flickr


def _flickr_tokens(text: str, where: str) -> dict[str, list[str]]:
    """Captions by image name of a token file (``name.jpg#k<TAB>caption`` lines)."""
    captions: dict[str, list[str]] = {}
    for number, line in numbered_lines(text):
        head, tab, caption = line.partition("\t")
        name = head.rpartition("#")[0] if "#" in head else head
        if not tab or not name or not caption.strip():
            raise DataError(
                f"{where}, line {number}: {line[:60]!r} is not 'image.jpg#0<TAB>caption' "
                "(a Flickr token file); check task.layout and task.captions_file"
            )
        captions.setdefault(name, []).append(_clean(caption))
    return captions


def _flickr_split(
    path: Path,
    key: str,
    options: CaptionReadOptions,
    encoding: str,
    root: Path,
    tokens: dict[str, list[str]] | None,
) -> list[CaptionedImage]:
    """The images a split list names, with their captions from ``task.captions_file``."""
    assert options.captions_file is not None
    token_path = Path(options.captions_file).expanduser()
    if tokens is None or not tokens:
        text = read_text(token_path, encoding, "task.captions_file", kind="a Flickr token file")
        tokens = {} if tokens is None else tokens
        tokens.update(_flickr_tokens(text, location("task.captions_file", token_path)))
    examples = []
    for number, name in numbered_lines(read_text(path, encoding, key, kind="a split list")):
        here = location(key, path, number)
        if name not in tokens:
            raise DataError(
                f"{here}: image {name!r} has no caption in task.captions_file "
                f"{str(token_path)!r}; check that the split list and the token file belong "
                "together (data.train is a split list such as Flickr_8k.trainImages.txt)"
            )
        examples.append(CaptionedImage(_image_path(root, name), tuple(tokens[name]), name, here))
    return examples


# ----------------------------------------------------------------------------- coco


def _coco(text: str, root: Path, where: str) -> list[CaptionedImage]:
    """Images of a COCO captions file that have at least one caption, in ``images`` order."""
    try:
        data = json.loads(text)
        images = {image["id"]: str(image["file_name"]) for image in data["images"]}
        pairs = [(note["image_id"], str(note["caption"])) for note in data["annotations"]]
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: not valid JSON: {error}; check task.layout") from error
    except (KeyError, TypeError) as error:
        raise DataError(
            f"{where}: not a COCO captions file (missing {error}); it needs 'images' with "
            "'id' and 'file_name', and 'annotations' with 'image_id' and 'caption'"
        ) from error
    captions: dict[Any, list[str]] = {}
    for image_id, caption in pairs:
        if image_id not in images:
            raise DataError(f"{where}: an annotation names image_id {image_id!r}, not in images")
        if caption.strip():
            captions.setdefault(image_id, []).append(_clean(caption))
    return [
        CaptionedImage(
            _image_path(root, name), tuple(captions[i]), name, f"{where}: image {name!r}"
        )
        for i, name in images.items()
        if i in captions
    ]


# ----------------------------------------------------------------------------- rows


def _delimited_rows(text: str, where: str, layout: str) -> Iterator[tuple[dict[str, Any], str]]:
    """(row, its location) of a CSV or TSV text with a header row; blank rows skipped."""
    stream = io.StringIO(text, newline="")
    reader = csv.DictReader(stream, delimiter="\t" if layout == "tsv" else ",")
    try:
        for row in reader:
            if any(isinstance(value, str) and value.strip() for value in row.values()):
                yield row, f"{where}, line {reader.line_num}"
    except csv.Error as error:
        raise DataError(f"{where}, line {reader.line_num}: not valid CSV: {error}") from error


def _column(row: dict[str, Any], column: str, key: str, here: str) -> Any:
    if column not in row:
        raise DataError(
            f"{here}: no column {column!r} (columns: {', '.join(map(str, row))}); "
            f"set {key} to the right column"
        )
    return row[column]


def _row_captions(row: dict[str, Any], options: CaptionReadOptions, here: str) -> list[str]:
    """The captions of a row's caption columns (a value may be a list); blank ones dropped."""
    found: list[str] = []
    for column in options.caption_columns:
        value = _column(row, column, "task.caption_columns", here)
        for caption in value if isinstance(value, list) else [value]:
            if caption is not None and not isinstance(caption, str):
                raise DataError(
                    f"{here}: column {column!r} holds {type(caption).__name__} values, not "
                    "captions; check task.caption_columns"
                )
            if caption and caption.strip():
                found.append(_clean(caption))
    return found


def _group_rows(
    rows: Iterator[tuple[dict[str, Any], str]], options: CaptionReadOptions, root: Path
) -> list[CaptionedImage]:
    """One CaptionedImage per image (first-appearance order) with the captions of all its rows."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for row, here in rows:
        image = _column(row, options.image_column, "task.image_column", here)
        if not isinstance(image, str) or not image.strip():
            raise DataError(f"{here}: no image path in column {options.image_column!r}")
        captions = _row_captions(row, options, here)
        if not captions:
            raise DataError(f"{here}: the row has no caption; fill it in or remove the row")
        grouped.setdefault(image.strip(), (here, []))[1].extend(captions)
    return [
        CaptionedImage(_image_path(root, name), tuple(captions), name, here)
        for name, (here, captions) in grouped.items()
    ]


# ----------------------------------------------------------------------------- datasets


def dataset_captions(
    split: str, dataset: Any, options: CaptionReadOptions, dataset_name: str
) -> list[CaptionedImage]:
    """Captioned images of one split of a ``datasets`` dataset (``data.name``): an ``Image``
    column gives its encoded bytes (or its file), a string column a path under
    ``task.image_root`` (default: the dataset's folder)."""
    import datasets

    where = f"data.name: split {split!r} of dataset {dataset_name!r}"
    columns = list(dataset.column_names)
    for column in [options.image_column, *options.caption_columns]:
        if column not in columns:
            key = "task.image_column" if column == options.image_column else "task.caption_columns"
            raise DataError(
                f"{where}: no column {column!r} (columns: {', '.join(columns)}); set {key}"
            )
    if isinstance(dataset.features[options.image_column], datasets.Image):
        dataset = dataset.cast_column(options.image_column, datasets.Image(decode=False))
    root = _image_root(options, Path(dataset_name))
    examples = []
    for index, row in enumerate(dataset):
        here = f"{where}, row {index}"
        captions = _row_captions(row, options, here)
        if not captions:
            raise DataError(f"{here}: the row has no caption; check task.caption_columns")
        image, name = _dataset_image(row[options.image_column], root, index, here)
        examples.append(CaptionedImage(image, tuple(captions), name, here))
    return examples


def _dataset_image(value: Any, root: Path, index: int, here: str) -> tuple[ImageSource, str]:
    """(source, name) of an image cell: Image bytes/path, or a path string."""
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        name = Path(value["path"]).name if value.get("path") else f"row {index}"
        if value.get("bytes"):
            return bytes(value["bytes"]), name
        return _image_path(root, value["path"]), name
    if isinstance(value, str) and value.strip():
        return _image_path(root, value.strip()), value.strip()
    raise DataError(
        f"{here}: the image column holds {type(value).__name__}, not an image or a path; "
        "check task.image_column"
    )


# ----------------------------------------------------------------------------- cache keys


def cache_key(options: CaptionReadOptions) -> dict[str, Any]:
    """What the task's cache key needs beyond ``pipeline.data.fingerprint`` (the captions
    files): these options and the identity of the token file and of ``task.image_root`` (each
    file's path, size and mtime). Images beside the captions file (``image_root`` null, as in
    data/shapes) are not walked: rewriting them without the captions file keeps a stale cache."""
    identity: dict[str, Any] = {
        "layout": options.layout,
        "image_column": options.image_column,
        "caption_columns": list(options.caption_columns),
        "skip_bad_images": options.skip_bad_images,
    }
    for key in ("captions_file", "image_root"):
        value = getattr(options, key)
        if value is not None:
            identity[key] = _path_identity(Path(value).expanduser())
    return identity


def _path_identity(path: Path) -> dict[str, Any]:
    """Resolved path and a digest of each file's relative path, size and mtime (a file: its
    own); a missing path is left for the readers to report."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        if file.exists():
            stat = file.stat()
            name = str(file.relative_to(path)) if path.is_dir() else file.name
            digest.update(json.dumps([name, stat.st_size, stat.st_mtime_ns]).encode())
    return {"path": str(path.resolve()), "files": digest.hexdigest()[:16]}
