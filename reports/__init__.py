"""Reports: charts, HTML run reports, decision logs and sweep reports, built from result frames."""
from reports.decision_log import decision_frame, iter_records, write_jsonl
from reports.run_report import ReportFiles, write_report

__all__ = ["ReportFiles", "decision_frame", "iter_records", "write_jsonl", "write_report"]
