"""Monitoring and costs for the course: CloudWatch metrics and logs, build/pipeline/deployment
history as pandas DataFrames, charts, alarms, dashboards and the cost model."""
