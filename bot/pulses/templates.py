"""The question bank behind `/pulse template NAME`."""

from __future__ import annotations

from bot.pulses.questions import QuestionSpec

TEMPLATES: dict[str, tuple[str, tuple[QuestionSpec, ...]]] = {
    "enps": ("Employee NPS", (
        QuestionSpec("enps", "How likely are you to recommend working here to a friend?", allow_comment=True),)),
    "wellbeing": ("Wellbeing check", (
        QuestionSpec("scale", "How are you feeling this week?"),
        QuestionSpec("yesno", "Do you have the support you need right now?", allow_comment=True),)),
    "workload": ("Workload", (
        QuestionSpec("scale", "How manageable was your workload this week? (1 = overwhelming, 5 = just right)"),
        QuestionSpec("single", "What would help most?",
                     ("Fewer meetings", "Clearer priorities", "More people", "Better tools", "Nothing, all good")),)),
    "manager-support": ("Manager support", (
        QuestionSpec("scale", "My manager gives me the support I need."),
        QuestionSpec("scale", "I get useful feedback on my work.", allow_comment=True),)),
    "customers": ("Hearing customers", (
        QuestionSpec("yesno", "Do you hear from customers enough?"),
        QuestionSpec("single", "Where do you hear them best?",
                     ("Listening stations", "Support tickets", "Calls and visits", "Reviews", "I don't")),
        QuestionSpec("text", "What is one thing customers keep telling us?"),)),
}
