"""
Writing a reader plugin
=======================

A reader is a small class: a name, the extensions it claims, a cheap
``sniff`` of the first bytes and ``read`` returning ``{name: Dataset}``. A
package publishes it with an entry point in its ``pyproject.toml``::

    [project.entry-points."sidkit.readers"]
    xyz = "mypkg.reader:XyzReader"

Here we register one at run time, as a test or a notebook would.
"""

# %%
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np

import sidkit.core as sk
from sidkit.core import CorruptFileError, Dataset, Dimension, Reader

MAGIC = b"XYZIMG1\n"


class XyzReader(Reader):
    """Read the (made-up) XYZ image format: a magic line, a text header, raw float32."""

    name: ClassVar[str] = "xyz"
    extensions: ClassVar[tuple[str, ...]] = (".xyz",)
    description: ClassVar[str] = "XYZ test images"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)  # cheap, never raises

    def read(self, path, *, lazy=True, **options):
        raw = Path(path).read_bytes()
        try:
            header, _, body = raw[len(MAGIC):].partition(b"\n")
            fields = dict(item.split("=") for item in header.decode("ascii").split())
            ny, nx, pixel = int(fields["ny"]), int(fields["nx"]), float(fields["pixel_nm"])
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise CorruptFileError(path, self.name, "the header is unreadable") from exc
        if ny * nx * 4 != len(body):  # check declared sizes before allocating
            raise CorruptFileError(path, self.name, f"header says {ny}x{nx} pixels, file has {len(body)} bytes")
        data = np.frombuffer(body, dtype="<f4").reshape(ny, nx)
        dims = [Dimension.linear("y", ny, scale=pixel, units="nm", quantity="length", dimension_type="spatial"),
                Dimension.linear("x", nx, scale=pixel, units="nm", quantity="length", dimension_type="spatial")]
        return {"image": Dataset(data, dims, title=Path(path).stem, quantity="intensity", units="counts",
                                 source=str(path), original_metadata=fields)}


sk.register_reader(XyzReader)

# %%
# Write a file in the format and load it like any other
folder = Path(tempfile.mkdtemp())
yy, xx = np.mgrid[:64, :80]
img = (np.sin(xx / 5) * np.cos(yy / 7) + 1).astype("<f4")
(folder / "sample.xyz").write_bytes(MAGIC + b"ny=64 nx=80 pixel_nm=0.2\n" + img.tobytes())

ds = sk.load(folder / "sample.xyz")
print(repr(ds))
fig = ds.plot()

# %%
# A damaged file gives a clear error naming the file and the reader
(folder / "broken.xyz").write_bytes(MAGIC + b"ny=64 nx=80 pixel_nm=0.2\n" + img.tobytes()[:1000])
try:
    sk.load(folder / "broken.xyz")
except sk.CorruptFileError as exc:
    print(exc)
