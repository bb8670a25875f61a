"""The names people see for the parts of a diagram, as the modeller's panel labels them.

Version comparisons and deploy problems use them, so a message says "Due date" where the panel says
"Due date", never `camunda:dueDate` or `{http://camunda.org/schema/1.0/bpmn}assignee`."""
import re

LABELS = {
    "name": "Name", "id": "ID", "assignee": "Assignee", "candidateGroups": "Roles",
    "candidateUsers": "Candidate users", "dueDate": "Due date", "due": "Due date",
    "followUpDate": "Reminder date", "follow_up": "Reminder date", "formKey": "Form", "formRef": "Form",
    "default": "Default path", "sourceRef": "From", "targetRef": "To", "isExecutable": "Can run",
    "calledElement": "Process to call", "decisionRef": "Decision table", "resultVariable": "Result saved as",
    "conditionExpression": "Condition", "script": "Script", "scriptFormat": "Script language",
    "timeDuration": "Timer (how long)", "timeDate": "Timer (date)", "timeCycle": "Timer (repeats)",
    "inputEntry": "Decision table rule", "outputEntry": "Decision table result",
    "inputExpression": "Decision table input", "type": "Kind of element",
    "content": "Details (instructions, conditions, form fields or other settings)",
    "in sourceExpression": "Data passed in", "out sourceExpression": "Data passed back",
    "collection": "Items to repeat for", "elementVariable": "Each item is called",
    "loopCardinality": "Times to repeat", "completionCondition": "Stop repeating when",
    "messageRef": "Message", "signalRef": "Signal", "errorRef": "Error", "escalationRef": "Escalation",
}


def label(name):
    """`{http://camunda.org/schema/1.0/bpmn}assignee`, `camunda:dueDate` or `due` → "Assignee", "Due date";
    a name with no label of its own is spelled out in words (`historyTimeToLive` → "History time to live")."""
    local = name.rsplit("}", 1)[-1].split(":", 1)[-1]
    return LABELS.get(local) or _words(local)


def _words(name):
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()
