"""PCA (10 components) and k-means (k=8) of a 256 x 256 x 1024 float32
spectral image: sidkit.analytics vs scikit-learn called on the numpy array.

    python bench_decompose_cluster.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse

import numpy as np
from _synthetic import spectral_image

from sidkit.core.benchmarking import best_time as best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="64 x 64 x 256 instead of 256 x 256 x 1024")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ny, nx, ne = (64, 64, 256) if args.quick else (256, 256, 1024)
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    from sidkit.analytics import cluster, decompose
    from sidkit.core import Dataset, Dimension

    arr = spectral_image(ny, nx, ne)
    ds = Dataset(arr, [Dimension.linear("y", ny, units="nm", dimension_type="spatial"),
                       Dimension.linear("x", nx, units="nm", dimension_type="spatial"),
                       Dimension.linear("energy", ne, units="eV", dimension_type="spectral")], units="counts")
    flat = arr.reshape(-1, ne)
    label = f"{ny}x{nx}x{ne}_f32"

    def sk_pca():
        PCA(n_components=10, random_state=0).fit_transform(flat)

    def sk_pca_sidkit():
        r = decompose(ds, 10, method="pca", random_state=0)
        np.asarray(r.maps)

    def sk_km():
        KMeans(n_clusters=8, random_state=0).fit_predict(flat)

    def sk_km_sidkit():
        r = cluster(ds, 8, method="kmeans", random_state=0)
        np.asarray(r.labels)

    # warm-up on a small slice: first-use imports are not timed
    small = ds[:16, :16]
    decompose(small, 3).maps.compute()
    cluster(small, 2).labels.compute()
    PCA(3).fit(flat[:256])
    KMeans(2, random_state=0).fit(flat[:256])
    for name, ours, ref in (("pca10", sk_pca_sidkit, sk_pca), ("kmeans8", sk_km_sidkit, sk_km)):
        t_ref, t_ours = [], []
        for _ in range(args.repeat):  # interleaved, best of each, to damp load noise
            t_ref.append(best(ref, 1))
            t_ours.append(best(ours, 1))
        t_ref, t_ours = min(t_ref), min(t_ours)
        print(f"analytics.{name}_{label}: sidkit {t_ours:.2f} s, scikit-learn {t_ref:.2f} s, "
              f"ratio {t_ours / t_ref:.2f}x", flush=True)


if __name__ == "__main__":
    main()
