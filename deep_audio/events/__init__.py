"""Labelled time spans: sound events and regions, their reading, writing, detection and scoring."""
