"""The pipeline: an input and options in, output files and a report out (`run.Pipeline`),
shared by ``ssrstf infer``, ``ssrstf demo``, `ssrstf.lift` and `ssrstf.lift_mesh` (`api`);
many inputs at once (`batch`), and live streams (`stream`)."""
