"""Where the design document imports the scheduler from (``app.detection.scheduler``).

The scheduler lives in ``tamio.scheduler``; this module only names its entry points here.

    scheduler = await setup_apscheduler(app)
"""

from tamio.scheduler.setup import SlotTrigger, setup_apscheduler, shutdown_apscheduler

__all__ = ["SlotTrigger", "setup_apscheduler", "shutdown_apscheduler"]
