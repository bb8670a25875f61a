/**
 * The modeller in a marketing team's words: bpmn-js's `translate` service, with the properties panel's
 * engine terms and examples replaced by what Baton runs (`publish_date - days(25)`, `P2D`,
 * `PT48H,PT24H`). Every other text passes through unchanged.
 */

const WORDS = {
  'User assignment': 'Who does it, and by when',
  'Forms': 'Kind of form',
  'Documentation': 'Instructions',
  'Element documentation': 'Instructions (shown on the task page; Markdown)',
  'Extension properties': 'Estimate, reminders and other settings',
  'Candidate groups': 'Roles',
  'Candidate users': 'People',
  'Follow up date': 'Reminder date',
  'The due date as an EL expression (e.g. ${someDate}) or an ISO date (e.g. 2015-06-26T09:54:00).':
    'Counted from the data: publish_date - days(25), publish_date - working_days(3); ' +
    'or from when the step opens: P2D, PT4H; or a date: 2026-12-24. ' +
    'A day without a time is due when that working day ends.',
  'The follow up date as an EL expression (e.g. ${someDate}) or an ISO date (e.g. 2015-06-26T09:54:00).':
    'When the first reminder goes out, written like the due date (publish_date - days(27), P1D).'
};

/** Hints under the entries that have none of their own (the panel's `description` setting: entry id →
 * function of the element). */
export const HINTS = {
  name: startersHint,
  candidateGroups: () => 'Comma-separated roles; left empty, the lane\'s name is the role.',
  candidateUsers: () => 'Comma-separated usernames; ${reviewers} reads them from the data.',
  assignee: () => 'One username, or ${approver} to read it from the data; only that person (and admins) can do it.'
};

/** Under a start event's name: who may start the process, as the server decides it (the start event's
 * roles, else its lane's name, else everyone; its designer may always start it to try it). */
function startersHint(element) {
  const bo = element.businessObject;

  if (!bo.$instanceOf('bpmn:StartEvent') || bo.$parent.$instanceOf('bpmn:SubProcess')) {
    return undefined;
  }

  const roles = (bo.get('camunda:candidateGroups') || '').trim();
  const lane = (bo.get('lanes') || [])[0];
  const who = roles ? `people with the role ${roles}`
    : lane && lane.name ? `people with the role “${lane.name.trim().toLowerCase()}” (this lane)` : 'everyone signed in';

  return `Who can start it: ${who}, and whoever deploys it, to try it.`;
}

function batonTranslate(template, replacements) {
  const text = WORDS[template] || template;

  return text.replace(/{([^}]+)}/g, (match, key) => (replacements && key in replacements ? replacements[key] : match));
}

export default {
  translate: [ 'value', batonTranslate ]
};
