"""CloudWatch alarms that really evaluate moto's metric alarms: state, history and SNS actions."""

from labkit.emulator.alarms.evaluator import AlarmEvaluator
from labkit.emulator.alarms.rules import Period, judge, statistic_of

__all__ = ["AlarmEvaluator", "Period", "judge", "statistic_of"]
