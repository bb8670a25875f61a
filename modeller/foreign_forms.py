"""Forms drawn in other tools, read as Baton's own form fields.

A user task's form may live outside `camunda:formData`, in a file uploaded with the diagram:
- a **Camunda Form** (form-js JSON, `.form`; Camunda 7 names it by `camunda:formRef="<form id>"` or
  `camunda:formKey="camunda-forms:deployment:<file>.form"`; Camunda 8 by `zeebe:formDefinition`);
- an **embedded HTML form** (`camunda:formKey="embedded:deployment:<file>.html"` or `embedded:app:…`),
  whose inputs carry `cam-variable-name` and `cam-variable-type`;
- a **SpiffArena JSON-schema form** (`spiffworkflow:property name="formJsonSchemaFilename"`, with an
  optional `formUiSchemaFilename`).
Each becomes the same field dicts `elements.form_fields` gives, so the page, the API and the server's
checks (`engine/forms.py`) treat them exactly like Baton's own forms: one set of rules. What a field
kind has no Baton equivalent for (a list of values, a dynamic choice list) is left out and said at
deploy; a form that names a file not uploaded is a deploy warning naming the element.
"""
import json
import os

from lxml import etree
from lxml import html as lxml_html

from .reader import CAMUNDA_NS, SPIFF_NS, Document, DocumentRejected, Problem, check_envelope

FORM_SUFFIXES = (".form", ".json", ".html", ".htm")
_FORMJS = {"textfield": "string", "textarea": "textarea", "number": "long", "checkbox": "boolean",
           "select": "enum", "radio": "enum"}
_FORMJS_LAYOUT = {"text", "html", "image", "spacer", "separator", "button", "iframe", "table", "expression",
                  "filepicker", "documentPreview"}
_CAM_TYPES = {"string": "string", "boolean": "boolean", "long": "long", "integer": "long", "short": "long",
              "double": "double",
              "date": "date"}


def is_form_file(filename):
    return filename.lower().endswith(FORM_SUFFIXES)


def read(filename, content):
    """A form file as a Document of kind "form" (its content in `data`); DocumentRejected when unreadable."""
    problems = check_envelope(filename, content)
    if problems:
        raise DocumentRejected(problems)
    try:
        return Document(filename, content, None, "form", data=_parse(filename, content))
    except ValueError as error:
        raise DocumentRejected([Problem(str(error), None, None, filename)]) from None


def _parse(filename, content):
    """The content of a form file (JSON, or the HTML tree), or ValueError saying why it cannot be read."""
    if filename.lower().endswith((".html", ".htm")):
        parser = lxml_html.HTMLParser(no_network=True, remove_comments=True)
        try:
            return lxml_html.fromstring(content, parser=parser)
        except (etree.ParserError, ValueError) as error:
            raise ValueError(f"cannot read this HTML form: {error}") from None
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not valid JSON: {error}") from None


def index(documents):
    """{"files": {base name: content}, "camunda": {form id: form-js schema}} of the uploaded form files."""
    found = {"files": {}, "camunda": {}}
    for document in documents:
        if document.kind != "form":
            continue
        found["files"][os.path.basename(document.filename)] = document.data
        if isinstance(document.data, dict) and isinstance(document.data.get("components"), list):
            found["camunda"][str(document.data.get("id") or "")] = document.data
    return found


def reference(element):
    """(kind, name) of the other tool's form an element names, or None."""
    form_ref = element.get(f"{{{CAMUNDA_NS}}}formRef")
    if form_ref:
        return "camunda", form_ref.strip()
    key = (element.get(f"{{{CAMUNDA_NS}}}formKey") or "").strip()
    for prefix, kind in (("camunda-forms:deployment:", "file"), ("camunda-forms:app:", "file"),
                         ("embedded:deployment:", "file"), ("embedded:app:", "file")):
        if key.startswith(prefix):
            return kind, os.path.basename(key[len(prefix):])
    for node in element.iter("{*}formDefinition"):   # Camunda 8 (zeebe:formDefinition formId="…")
        if node.get("formId"):
            return "camunda", node.get("formId").strip()
    for node in element.iter(f"{{{SPIFF_NS}}}property"):
        if node.get("name") == "formJsonSchemaFilename" and node.get("value"):
            return "file", os.path.basename(node.get("value").strip())
    return None


def _ui_schema(element, forms):
    for node in element.iter(f"{{{SPIFF_NS}}}property"):
        if node.get("name") == "formUiSchemaFilename" and node.get("value"):
            found = forms["files"].get(os.path.basename(node.get("value").strip()))
            return found if isinstance(found, dict) else {}
    return {}


def fields(element, forms):
    """(fields, problems) of the other tool's form `element` names; ([], []) when it names none."""
    named = reference(element)
    if named is None:
        return [], []
    kind, name = named
    where = f"form {name!r}"
    content = forms["camunda"].get(name) if kind == "camunda" else forms["files"].get(name)
    if content is None and kind == "file":
        content = forms["camunda"].get(name.rsplit(".", 1)[0])
    if content is None:
        return [], [f"uses {where}, which is not in this upload: upload it with the diagram, or the step "
                    "shows no form"]
    if isinstance(content, dict) and isinstance(content.get("components"), list):
        return _from_formjs(content["components"], where)
    if isinstance(content, dict) and isinstance(content.get("properties"), dict):
        return _from_json_schema(content, _ui_schema(element, forms), where)
    if isinstance(content, etree._Element):
        return _from_html(content, where)
    return [], [f"{where} is neither a Camunda Form, an HTML form nor a JSON schema"]


def _from_formjs(components, where, found=None, left=None):
    found, left = (found if found is not None else []), (left if left is not None else [])
    for component in components:
        if not isinstance(component, dict):
            continue
        kind = component.get("type")
        if isinstance(component.get("components"), list):   # groups and dynamic lists: their fields
            _from_formjs(component["components"], where, found, left)
            continue
        if kind in _FORMJS_LAYOUT or not component.get("key"):
            continue
        validate = component.get("validate") or {}
        field = {"id": str(component["key"]), "label": component.get("label") or str(component["key"]),
                 "type": _FORMJS.get(kind), "default": component.get("defaultValue"),
                 "required": bool(validate.get("required")),
                 "readonly": bool(component.get("readonly") or component.get("disabled"))}
        if kind == "number" and component.get("decimalDigits"):
            field["type"] = "double"
        if kind == "datetime":
            field["type"] = "date" if component.get("subtype", "date") == "date" else "string"
        if field["type"] is None:
            left.append(f"{where}: field {component['key']!r} is a {kind}, which Baton does not show yet")
            continue
        if kind in ("select", "radio"):
            if not isinstance(component.get("values"), list):
                left.append(f"{where}: field {component['key']!r} takes its choices from data, which Baton "
                            "does not show yet")
                continue
            field["values"] = [{"id": str(v.get("value")), "name": str(v.get("label") or v.get("value"))}
                               for v in component["values"] if isinstance(v, dict)]
        for source, target in (("minLength", "minlength"), ("maxLength", "maxlength"), ("min", "min"),
                               ("max", "max")):
            if validate.get(source) not in (None, ""):
                field[target] = str(validate[source])
        found.append(field)
    return found, left


def _from_json_schema(schema, ui, where):
    properties, required = schema["properties"], set(schema.get("required") or [])
    order = [k for k in ui.get("ui:order", []) if k in properties] if isinstance(ui.get("ui:order"), list) else []
    found, left = [], []
    for key in order + [k for k in properties if k not in order]:
        spec, look = properties[key] if isinstance(properties[key], dict) else {}, ui.get(key) or {}
        kind = spec.get("type")
        field = {"id": key, "label": spec.get("title") or key, "default": spec.get("default"),
                 "required": key in required, "readonly": bool(spec.get("readOnly") or look.get("ui:readonly"))}
        choices = spec.get("enum") or [o.get("const") for o in spec.get("oneOf") or [] if isinstance(o, dict)]
        if choices:
            titles = {str(o.get("const")): o.get("title") for o in spec.get("oneOf") or [] if isinstance(o, dict)}
            field.update(type="enum", values=[{"id": str(c), "name": str(titles.get(str(c)) or c)} for c in choices])
        elif kind == "string":
            field["type"] = "date" if spec.get("format") == "date" else \
                "textarea" if look.get("ui:widget") == "textarea" else "string"
        elif kind in ("integer", "number"):
            field["type"] = "long" if kind == "integer" else "double"
        elif kind == "boolean":
            field["type"] = "boolean"
        else:
            left.append(f"{where}: field {key!r} is a {kind or 'value of no type'}, which Baton does not show yet")
            continue
        for source, target in (("minLength", "minlength"), ("maxLength", "maxlength"), ("minimum", "min"),
                               ("maximum", "max")):
            if spec.get(source) is not None:
                field[target] = str(spec[source])
        found.append(field)
    return found, left


def _from_html(tree, where):
    labels = {label.get("for"): " ".join(label.text_content().split())
              for label in tree.iter("label") if label.get("for")}
    found, left = [], []
    for node in tree.iter("input", "select", "textarea"):
        name = node.get("cam-variable-name")
        if not name:
            continue
        kind = (node.get("cam-variable-type") or "String").lower()
        field = {"id": name, "label": labels.get(node.get("id")) or name, "default": None,
                 "required": node.get("required") is not None, "readonly": node.get("readonly") is not None,
                 "type": "textarea" if node.tag == "textarea" else
                 "boolean" if node.get("type") == "checkbox" else _CAM_TYPES.get(kind)}
        if node.tag == "select":
            options = [(o.get("value", o.text_content().strip()), o.text_content().strip())
                       for o in node.iter("option")]
            field.update(type="enum", values=[{"id": value, "name": text or value} for value, text in options if value])
        if field["type"] is None:
            left.append(f"{where}: field {name!r} is a {kind}, which Baton does not show yet")
            continue
        for attribute in ("minlength", "maxlength", "min", "max"):
            if node.get(attribute):
                field[attribute] = node.get(attribute)
        found.append(field)
    return found, left
