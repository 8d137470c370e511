"""Election policy that is not a protocol: health-check verdicts, the boot hold-down, operator
demotions and maintenance. Pure trackers: results and commands in, core events out."""
