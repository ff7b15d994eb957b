"""Stance of a sentence or a question on its action: readiness ("ready to disarm", "agreed",
"accepts") or refusal ("refuse to do so", "rejected", "will not"). The answer scorer uses it to
prefer sentences whose stance matches the question's ("Which militias refuse to disarm?"), and
the timeline to flag sources that take opposite stances."""
from __future__ import annotations

import re

READY = re.compile(r"\b(ready|prepared|willing|agreed?|agrees|agreeing|consider(?:ing|s)?|accept(?:ed|s|ing)?|"
                   r"yield(?:ed|s)?|support(?:ed|s)?|approv(?:e|ed|es|ing)|back(?:ed|s)?|endors\w*|welcom\w*|"
                   r"comply|complied|complies)\b", re.I)
REFUSE = re.compile(r"\b(refus\w*|reject\w*|defy\w*|defi\w*|won’t|won't|will not|would not|wouldn’t|wouldn't|never|"
                    r"resist\w*|oppos\w*|den(?:y|ies|ied|ying)|declin\w*|boycott\w*|vetoe?\w*|against|unwilling|"
                    r"not|n’t|n't)\b", re.I)

READY_STANCE, NO_STANCE, REFUSING_STANCE = 1, 0, -1

# Reported speech: a sentence that quotes or reports someone ("…," he said; told Reuters;
# according to), and a question that asks what someone said or thinks.
SPEECH = re.compile(r"[“”\"]|\b(said|says|say|told|tells|stated|states|added|noted|warned|argued|insisted|claimed|"
                    r"declared|announced|according to|called for|described|urged|stressed)\b", re.I)
ASKS_SPEECH = re.compile(r"\b(say|said|says|tell|told|describe|described|think|thinks|view|views|position|stance|"
                         r"according to|claim|claimed|warn|warned|argue|argued|call|called)\b", re.I)


def stance(text: str) -> int:
    """``REFUSING_STANCE`` when the text says no to something, else ``READY_STANCE`` when it says
    yes, else ``NO_STANCE``. Refusal wins: "not ready" refuses."""
    if REFUSE.search(text):
        return REFUSING_STANCE
    if READY.search(text):
        return READY_STANCE
    return NO_STANCE
