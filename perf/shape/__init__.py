"""shape: model configs as data, Table II GEMMs, the paper's hardware rules and their policy, HF config import.
Beside the timing flow: imports only gpus (and itself); measure, verdict, report and suite may import it."""
