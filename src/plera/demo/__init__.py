"""`plera demo`: a scripted scenario from workspace to launch, then ten simulated days of sending to local
sinks (an SMTP sink and the LinkedIn sandbox) while the demo plays the leads (a reply, an out-of-office,
a bounce, an unsubscribe) through Plera's own API, shown as a person would read it.

- `run`: the whole demo; `first_morning`: what a person does before launch; `story`: the simulated
  days; `reactions` and `lead_mail`: the leads' side; `api_server`: the API they reach;
  `week`: the demo's clock; `report_*`: what it prints; `lab`: the Messaging Lab in one call, for
  tests and benchmarks.
"""

from plera.demo.lab import PLAIN_MESSAGES, make_ready, sink_senders
from plera.demo.report_setup import print_history
from plera.demo.run import run_demo

__all__ = ["PLAIN_MESSAGES", "make_ready", "print_history", "run_demo", "sink_senders"]
