"""`make demo`'s samples: each photo of people has a face hidden, the card photo its card,
the video its face in every frame, and the review page is written."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from faceguard.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PEOPLE = ["astronaut_collins.jpg", "grace_hopper_sideways_gps.jpg", "id_card_in_hand.jpg"]


def test_the_demo_hides_a_face_in_each_photo_of_people_and_the_card(tmp_path):
    out, report = tmp_path / "demo", tmp_path / "report.jsonl"
    result = CliRunner().invoke(main, ["run", str(SAMPLES), "-o", str(out), "--workers", "1",
                                       "--report", str(report)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = {Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert all(records[name]["faces"] for name in PEOPLE)
    assert records["id_card_in_hand.jpg"]["cards"] and records["id_card_in_hand.jpg"]["texts"]
    assert "gps" in records["grace_hopper_sideways_gps.jpg"]["metadata_removed"]
    video = records["phone_video_gps.mp4"]  # the face tracked in every frame, the tags gone
    assert len(video["faces"]) == 1 and video["faces"][0]["last_frame"] == 49
    assert video["video"]["audio"] == "copied" and "gps" in video["metadata_removed"]
    result = CliRunner().invoke(main, ["review", str(out), "--report", str(report)], catch_exceptions=False)
    assert result.exit_code == 0 and (out / "review.html").is_file()
