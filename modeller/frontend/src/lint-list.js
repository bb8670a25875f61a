import { renderProblems } from './problem-list';

const CATEGORY_ORDER = { error: 0, warn: 1, info: 2 };

/**
 * Mirror bpmn-js-bpmnlint's results into a list (`#lint-problems`):
 * one <li> per issue with element id, rule and message.
 *
 * @param {import('bpmn-js/lib/Modeler').default} modeler
 * @param {HTMLElement|null} list
 */
export function setupLintList(modeler, list) {
  if (!list) {
    return;
  }

  modeler.get('eventBus').on('linting.completed', ({ issues }) => {
    const problems = [];

    for (const [ shownOn, reports ] of Object.entries(issues || {})) {
      for (const report of reports) {
        problems.push({
          elementId: report.actualElementId || report.id || shownOn,
          focusId: shownOn,
          rule: report.rule,
          message: report.message,
          category: report.category === 'warn' ? 'warn' : (report.category || 'error')
        });
      }
    }

    problems.sort((a, b) =>
      (CATEGORY_ORDER[a.category] ?? 3) - (CATEGORY_ORDER[b.category] ?? 3) ||
      String(a.elementId).localeCompare(String(b.elementId)) ||
      String(a.rule).localeCompare(String(b.rule))
    );

    renderProblems(list, problems, modeler);
  });
}
