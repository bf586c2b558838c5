"""What `opensoc audit` measures: OpenSOC's readings of events set against readings written outside the project.

- ``sigma_corpus``: test events synthesised from the SigmaHQ community rules' own detections (one OpenSOC event per
  rule that the rule matches), an approximation of attack telemetry described by people outside this project.
"""
