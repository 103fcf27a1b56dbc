from imdb_sentiment.analysis.counterfactual import counterfactual_finding


def _result(revisions: float, consistency: float) -> dict:
    return {"pairs": 4, "original_accuracy": 1.0, "revision_accuracy": revisions, "consistency": consistency,
            "correct_revisions": [True] * round(revisions * 4) + [False] * (4 - round(revisions * 4))}


MODELS = {"teacher": {"kind": "transformer", "accuracy": 0.93, "run_dir": "runs/teacher", "teacher": None},
          "student": {"kind": "bilstm", "accuracy": 0.91, "run_dir": "runs/student", "teacher": "runs/teacher"},
          "student_pairs": {"kind": "bilstm", "accuracy": 0.91, "run_dir": "runs/sp", "teacher": "runs/teacher"},
          "labels": {"kind": "bilstm", "accuracy": 0.90, "run_dir": "runs/labels", "teacher": None}}


def test_the_finding_puts_students_between_their_teacher_and_the_bilstms_on_labels():
    results = {"teacher": _result(1.0, 0.75), "student": _result(0.75, 0.5), "student_pairs": _result(0.75, 0.75),
               "labels": _result(0.5, 0.25)}
    finding = counterfactual_finding(results, MODELS)
    assert finding.startswith("On 4 human-edited review pairs, teacher gets 100.0% of the revised reviews right")
    assert finding.endswith("Both of a pair right: the BiLSTMs taught by a Transformer 50.0%-75.0%, their teachers "
                            "75.0%, the BiLSTMs trained on the labels alone 25.0%.")


def test_without_a_scored_teacher_the_finding_says_nothing_of_students():
    results = {"student": _result(0.75, 0.5), "labels": _result(0.5, 0.25)}
    assert "taught" not in counterfactual_finding(results, MODELS)
