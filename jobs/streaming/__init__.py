"""Spark Structured Streaming jobs: the low-latency paths beside the scheduled micro-batch ingest."""

from jobs.streaming.hotlist_stream import process_batch, start_hotlist_stream

__all__ = ["process_batch", "start_hotlist_stream"]
