"""
Clustering and classification
=============================

Every pixel of a spectral image is a sample and its spectrum the features.
k-means groups the pixels without labels; a support-vector machine (RBF
kernel), a decision tree and a random forest learn from a few labelled
pixels and classify the rest.
"""

# %%
import numpy as np

from sidkit.analytics import classify, cluster
from sidkit.core import Dataset, Dimension
from sidkit.core.plotting import plot_grid, plot_labels

rng = np.random.default_rng(5)
ny, nx, ne = 40, 48, 120
energy = Dimension.linear("energy", ne, scale=0.08, offset=0.3, units="keV", quantity="energy",
                          dimension_type="spectral")
e = energy.values


def line(center, height):
    return height * np.exp(-0.5 * ((e - center) / 0.07) ** 2)


spectra = np.stack([2 + line(1.49, 30),                    # Al
                    2 + line(1.74, 30) + line(0.52, 8),    # SiO2
                    2 + line(6.40, 20) + line(0.70, 10)])  # Fe
yy, xx = np.mgrid[:ny, :nx]
truth = np.zeros((ny, nx), dtype=int)
truth[(yy - 12) ** 2 + (xx - 14) ** 2 < 70] = 1
truth[(yy - 28) ** 2 + (xx - 34) ** 2 < 90] = 1
truth[np.abs(yy - 0.6 * xx - 12) < 3] = 2
si = Dataset(rng.poisson(spectra[truth]).astype("float32"),
             [Dimension.linear("y", ny, scale=5, units="nm", quantity="length", dimension_type="spatial"),
              Dimension.linear("x", nx, scale=5, units="nm", quantity="length", dimension_type="spatial"),
              energy], title="EDS SI", quantity="X-ray counts", units="counts")
names = {0: "Al", 1: "SiO2", 2: "Fe"}
fig = plot_labels(Dataset(truth, si.dims[:2], title="true phases"), names=names)

# %%
# Unsupervised: k-means
km = cluster(si, 3)
fig = plot_labels(km.labels.compute())
fig = plot_grid(km.centers, ncols=3, suptitle="cluster centres")

# %%
# Supervised: label 1 % of the pixels, classify the rest
partial = np.full(truth.shape, -1)
picked = rng.random(truth.shape) < 0.01
partial[picked] = truth[picked]
print("labelled pixels:", int(picked.sum()))
labels = Dataset(partial, si.dims[:2], title="partial labels")
fig = plot_labels(labels, names=names)

# %%
for estimator in ("svm", "tree", "forest"):
    res = classify(si, labels, estimator)
    predicted = np.asarray(res.labels)
    accuracy = (predicted == truth)[~picked].mean()
    print(f"{estimator:>6}: accuracy on unlabelled pixels {accuracy:.3f}")

res = classify(si, labels, "svm")
out = res.labels.compute()
out.title = "SVM (RBF) classification"
fig = plot_labels(out, names=names)
