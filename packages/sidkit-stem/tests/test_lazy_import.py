import subprocess
import sys


def test_import_and_plugin_listing_load_no_heavy_optional_modules():
    code = (
        "import sys\n"
        "import sidkit.stem\n"
        "from sidkit.core import processes\n"
        "names = processes()\n"
        "assert 'virtual_image' in names and 'strain_map' in names, sorted(names)\n"
        "heavy = [m for m in ('h5py', 'distributed', 'matplotlib', 'torch', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_registered_process_resolves_to_a_sidkit_stem_function():
    import sidkit.stem as stem
    from sidkit.core import get_process

    for name in ("virtual_image", "center_of_mass", "dpc_phase", "find_bragg_disks",
                 "lattice_vectors", "strain_map", "refine_atom_positions", "find_center",
                 "center_patterns", "mean_diffraction", "max_diffraction", "scan_images",
                 "calibrate_camera_length", "calibrate_reflection", "column_intensity_map",
                 "nearest_neighbour_map"):
        assert get_process(name) is getattr(stem, name)
