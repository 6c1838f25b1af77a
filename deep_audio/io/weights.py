"""Reading PyTorch files without running code: ``torch.load(weights_only=True)``, and a
plain message naming what a refused file holds (never PyTorch's advice to load it with
``weights_only=False``, the one thing not to do with a file of unknown origin)."""

from __future__ import annotations

import pickletools  # disassembles opcodes to name a refused object; never unpickles
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from deep_audio.errors import ModelFileError
from deep_audio.io.audio import printable

ADVICE = {
    "model": "train a model with deep_audio, or export the weights from the tool that made "
             "the file and load them into a deep_audio model in Python",
    "checkpoint": "delete it and train again without --resume",
}


def load_weights_only(path: Path, kind: str) -> Any:
    """``torch.load(path, weights_only=True)``; a file it refuses becomes a plain message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4"
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged or foreign files
        objects = _python_objects(path, error)
        what = "deep_audio model" if kind == "model" else "deep_audio training checkpoint"
        if objects:
            message = (f"'{printable(path)}' is not a {what}: it contains Python objects "
                       f"(pickled classes, e.g. {objects}), which deep_audio refuses to load "
                       "because loading them could run code")
        else:
            message = (f"'{printable(path)}' is not a {what} file (not a readable PyTorch "
                       "archive: damaged, cut off, or another kind of file)")
        # Not chained: torch's message advises weights_only=False, never to be followed here.
        raise ModelFileError(f"{message}; {ADVICE[kind]}") from None


# Globals that a torch.save of plain data uses; anything else is a Python object.
_PLAIN_GLOBALS = re.compile(r"^(torch\b|collections (OrderedDict|defaultdict)$|"
                            r"_codecs encode$|builtins (set|frozenset|bytearray)$)")


def _python_objects(path: Path, error: Exception) -> str | None:
    """The first Python class or function a refused file would have loaded, or ``None``.

    Found from torch's message, else by listing (never running) the file's pickle
    opcodes: a raw pickle, or ``data.pkl`` inside a zip archive.
    """
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    if found:
        return found.group(1)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(member) if member else b""
        else:
            with open(path, "rb") as stream:
                data = stream.read(64 << 20)
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return None
    if not data.startswith(b"\x80"):  # pickles of protocol 2 and above start with PROTO
        return None
    strings: list[str] = []
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL" and not _PLAIN_GLOBALS.match(argument):
                return argument.replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]} {strings[-1]}"
                if not _PLAIN_GLOBALS.match(name):
                    return name.replace(" ", ".")
            if isinstance(argument, str):
                strings.append(argument)
    except Exception:  # a damaged pickle: whatever came before it held no object
        return None
    return None


