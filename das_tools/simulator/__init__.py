"""ANPR traffic simulator with planted patterns and their ground truth.

``run_simulation(params, out_dir)`` writes landing files that follow the landing contract:

* ``out_dir/cameras/cameras.csv``: generic cameras CSV at the real TfL JamCam positions (camera_type anpr,
  ids from the JamCam ``imageUrl`` file name, e.g. ``00001.07450``);
* ``out_dir/crimes/crimes_YYYY-MM.csv``: exact-time incidents with police.uk category labels;
* ``out_dir/hotlist/hotlist.csv``: plates with list, reason, priority and validity;
* ``out_dir/anpr/anpr_YYYYMMDD_HHMM.csv``: each day's reads split into ``files_per_day`` time windows;
* ``out_dir/truth.json``: the ground truth for every flag type.

Every file is written as a hidden ``.name.tmp`` and renamed when complete; cameras, hotlist and crimes
land before the reads, and truth.json last.

truth.json format (version 1)::

    {
      "format_version": 1,
      "scenario": {...the parameters, resolved start_date, reads_days, crime_period, cameras_used,
                   population, reads_written, detector_settings the truth was computed with...},
      "flags": {"<flag_type>": [{"subject": "...", "related": [...], "planted": true, "note": "..."}]},
      "ignore": {"<flag_type>": [{"subject": "...", "related": [...], "note": "..."}]},
      "negatives": {"<flag_type>": [{"subject": "...", "note": "...", ...}]},
      "notes": ["..."]
    }

* ``flags``: what a correct detector must flag, one item per pattern instance. Subjects: the hotlist
  entry's normalised plate (hotlist_hit), the plate (cloned_plate, vehicle_near_crimes), the smallest plate
  of the group with the others in ``related`` (convoy), the latest crime id of the cluster with all its
  crime ids in ``related`` (near_repeat), the H3 cell (emerging_hotspot), the camera id (camera_silent).
  ``planted: false`` marks instances the background produced by chance that clearly meet the definition.
* ``ignore``: instances a correct detector may or may not flag (borderline, or decided by a score the
  rule leaves to the detector; for vehicle_near_crimes every non-planted plate read near >= min_crimes
  crimes, e.g. buses). The evaluation counts flags on them neither as true nor as false positives.
* ``negatives``: the planted traps (expired hotlist entries, neighbouring-camera reads seconds apart,
  co-travel at only three cameras or on one occasion). They are documentation: a flag on a trap matches
  nothing in ``flags`` and so counts as a false positive.

See ``das_tools.simulator.truth`` for how the chance instances are found and ``das_tools.evaluation`` for matching.
"""

from das_tools.simulator.params import PlantedCounts, SimulationConfigError, SimulationParams, default_small_scenario
from das_tools.simulator.simulation import SimulationResult, run_simulation

__all__ = [
    "PlantedCounts",
    "SimulationConfigError",
    "SimulationParams",
    "SimulationResult",
    "default_small_scenario",
    "run_simulation",
]
