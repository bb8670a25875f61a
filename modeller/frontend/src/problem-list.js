import { focusElement } from './element-focus';

/**
 * Render a list of problems into a <ul>: one <li> per problem. Problems that
 * point at an element present in the diagram get a button that selects and
 * scrolls to it.
 *
 * @param {HTMLElement} list
 * @param {Array<{ elementId?: string|null, rule?: string, message: string,
 *   category?: string, line?: number|null }>} problems
 * @param {import('bpmn-js/lib/Modeler').default} bpmnjs
 */
export function renderProblems(list, problems, bpmnjs) {
  const elementRegistry = bpmnjs.get('elementRegistry');

  const items = problems.map((problem) => {
    const item = document.createElement('li');
    const category = problem.category || 'error';

    item.className = `baton-problem baton-problem-${category}`;

    if (problem.elementId) {
      item.dataset.elementId = problem.elementId;
    }

    if (problem.rule) {
      item.dataset.rule = problem.rule;
    }

    const focusable = problem.focusId || problem.elementId;
    const container = focusable && elementRegistry.get(focusable)
      ? document.createElement('button')
      : document.createElement('span');

    container.className = 'baton-problem-body';

    if (container.tagName === 'BUTTON') {
      container.type = 'button';
      container.title = `Show ${problem.elementId} in the diagram`;
      container.addEventListener('click', () => focusElement(bpmnjs, focusable));
    }

    appendPart(container, 'category', category);

    if (problem.elementId) {
      appendPart(container, 'element', problem.elementId);
    }

    if (problem.line != null) {
      appendPart(container, 'line', `line ${problem.line}`);
    }

    if (problem.rule) {
      appendPart(container, 'rule', problem.rule);
    }

    appendPart(container, 'message', problem.message);

    item.appendChild(container);

    return item;
  });

  list.replaceChildren(...items);
  list.dataset.count = String(items.length);
}

function appendPart(parent, name, text) {
  const span = document.createElement('span');

  span.className = `baton-problem-${name}`;
  span.textContent = text;

  parent.appendChild(span);
  parent.appendChild(document.createTextNode(' '));
}
