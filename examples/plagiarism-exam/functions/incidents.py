"""The incident functions of the original (ScheduleExam, ResolveIncident,
TakeAdministrativeAction), in Python. The incident travels in the execution's data rather
than in DynamoDB: each function takes the state's input and returns the incident."""

import datetime
import uuid

WEEK = 7 * 24 * 60 * 60


def _incident(event):
    """The incident: the execution's input at first, then the last Schedule exam result."""
    if "Payload" in event:
        incident = dict(event["Payload"])
        result = event.get("ExamResult") or {}
        exams = [dict(e) for e in incident["Exams"]]
        exams[0]["Score"] = result.get("Score", 0)
        exams[0]["Result"] = "Pass" if result.get("Score", 0) >= 67 else "Fail"
        if result.get("Sat") is False:
            exams[0]["Result"] = "DidNotSit"
        incident["Exams"] = exams
        return incident
    return {
        "IncidentId": str(uuid.uuid4()),
        "StudentId": event["StudentId"],
        "IncidentDate": event["IncidentDate"],
        # How long the student has to sit each exam: a week, unless the incident says otherwise.
        "ExamTimeoutSeconds": int(event.get("ExamDeadlineSeconds", WEEK)),
        "Exams": [],
    }


def schedule_exam(event, context):
    incident = _incident(event)
    now = datetime.datetime.now(datetime.timezone.utc)
    deadline = now + datetime.timedelta(seconds=incident["ExamTimeoutSeconds"])
    exam = {
        "ExamId": str(uuid.uuid4()),
        "ExamDate": now.isoformat(),
        "ExamDeadline": deadline.isoformat(),
        "Result": "Pending",
        "Score": 0,
    }
    # Newest first: Exams[0] is the exam being sat.
    incident["Exams"] = [exam] + incident["Exams"]
    print(f"exam {exam['ExamId']} scheduled for incident {incident['IncidentId']} (attempt {len(incident['Exams'])})")
    return incident


def resolve_incident(event, context):
    incident = _incident(event)
    incident["IncidentResolved"] = True
    incident["AdministrativeActionRequired"] = False
    incident["ResolutionDate"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    return incident


def take_administrative_action(event, context):
    incident = _incident(event)
    incident["IncidentResolved"] = False
    incident["AdministrativeActionRequired"] = True
    print(f"incident {incident['IncidentId']}: three exams failed, administrative action required")
    return incident
