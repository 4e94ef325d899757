"""
Reading files
=============

``sidkit.core.load`` picks the reader from the file's extension and confirms
it by the file's first bytes. Here we write a few small files with the
formats' own libraries (tifffile, mrcfile, numpy) and read them back, then
save and reload NSID and USID. ``sidkit plugins`` lists every installed
reader.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np

import sidkit.core as sk

folder = Path(tempfile.mkdtemp())
rng = np.random.default_rng(1)
yy, xx = np.mgrid[:96, :128]
image = (1000 + 400 * np.sin(xx / 6.0) * np.cos(yy / 9.0) + rng.normal(0, 30, (96, 128))).astype("uint16")

# %%
# The installed readers
print(sorted(sk.readers()))

# %%
# TIFF, written by tifffile
# -------------------------
import tifffile

tifffile.imwrite(folder / "image.tif", image)
tif = sk.load(folder / "image.tif")
print(repr(tif))
fig = tif.plot()

# %%
# MRC, written by mrcfile, with a pixel size of 2.5 Å
# ----------------------------------------------------
import mrcfile

with mrcfile.new(folder / "stack.mrc") as mrc:
    mrc.set_data(np.stack([image.astype("float32") * (1 + 0.1 * k) for k in range(4)]))
    mrc.voxel_size = 2.5
stack = sk.load(folder / "stack.mrc")
print(repr(stack))
fig = stack.plot(frame=2, interactive=False)

# %%
# NumPy ``.npy``
# --------------
np.save(folder / "array.npy", image.astype("float32"))
arr = sk.load(folder / "array.npy")
print(arr.shape, arr.dtype)

# %%
# NSID and USID, the open HDF5 layouts
# ------------------------------------
# ``save`` writes NSID for ``.h5``; ``format="usid"`` writes USID. Both keep
# dims, units and metadata, and load lazily.
energy = sk.Dimension.linear("energy_loss", 64, scale=1.0, offset=280.0, units="eV",
                             quantity="energy", dimension_type="spectral")
si = sk.Dataset(rng.poisson(50, (8, 10, 64)).astype("float32"),
                [sk.Dimension.linear("y", 8, scale=0.5, units="nm", quantity="length", dimension_type="spatial"),
                 sk.Dimension.linear("x", 10, scale=0.5, units="nm", quantity="length", dimension_type="spatial"),
                 energy],
                title="EELS", quantity="intensity", units="counts", metadata={"beam": {"energy_kV": 200}})
sk.save(si, folder / "si_nsid.h5")
sk.save(si, folder / "si_usid.h5", format="usid")
for name in ("si_nsid.h5", "si_usid.h5"):
    back = sk.load(folder / name)
    same = np.array_equal(np.asarray(back), np.asarray(si))
    print(f"{name}: {back.data_type.name} dims={back.dim_names} units={[d.units for d in back.dims]} "
          f"values equal: {same}")

fig = sk.load(folder / "si_nsid.h5").plot(position=(4, 5))

# %%
# A file no reader understands gives a clear error naming the candidates
(folder / "notes.xyz").write_text("not a microscopy file")
try:
    sk.load(folder / "notes.xyz")
except sk.SidkitError as exc:
    print(type(exc).__name__, ":", exc)
