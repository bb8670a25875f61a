/**
 * Paint a process instance's progress onto a diagram.
 *
 * State JSON (from `data-state-url`):
 *   { "completed": ["elementId", ...],
 *     "active": [{ "element_id": "...", "roles": ["designer"], "assignee": null }],
 *     "flows": ["flowId", ...],
 *     "failed": ["elementId", ...] }
 *
 * Markers: baton-completed, baton-active, baton-flow-taken, baton-failed;
 * active elements get an overlay `.baton-role-badge` naming the role(s)
 * (and the assignee, when there is one).
 */

export const MARKERS = {
  completed: 'baton-completed',
  active: 'baton-active',
  flows: 'baton-flow-taken',
  failed: 'baton-failed'
};

const BADGE_TYPE = 'baton-role-badge';

/**
 * @param {import('bpmn-js/lib/NavigatedViewer').default} viewer
 */
export function createInstanceHighlight(viewer) {
  const canvas = viewer.get('canvas');
  const overlays = viewer.get('overlays');
  const elementRegistry = viewer.get('elementRegistry');

  let applied = [];

  function clear() {
    for (const [ id, marker ] of applied) {
      if (elementRegistry.get(id)) {
        canvas.removeMarker(id, marker);
      }
    }

    applied = [];
    overlays.remove({ type: BADGE_TYPE });
  }

  /**
   * @return {{ applied: number, missing: string[] }}
   */
  function apply(state) {
    clear();

    state = state || {};

    const missing = [];

    const mark = (id, marker) => {
      if (!id || !elementRegistry.get(id)) {
        missing.push(id);
        return false;
      }

      canvas.addMarker(id, marker);
      applied.push([ id, marker ]);

      return true;
    };

    for (const id of asArray(state.completed)) {
      mark(id, MARKERS.completed);
    }

    for (const id of asArray(state.flows)) {
      mark(id, MARKERS.flows);
    }

    for (const id of asArray(state.failed)) {
      mark(id, MARKERS.failed);
    }

    for (const entry of asArray(state.active)) {
      const active = typeof entry === 'string' ? { element_id: entry } : (entry || {});

      if (!mark(active.element_id, MARKERS.active)) {
        continue;
      }

      const roles = asArray(active.roles).filter(Boolean);
      const label = [
        roles.join(', '),
        active.assignee ? `@${active.assignee}` : ''
      ].filter(Boolean).join(' ');

      if (!label) {
        continue;
      }

      const badge = document.createElement('div');

      badge.className = 'baton-role-badge';
      badge.textContent = label;
      badge.title = [
        roles.length ? `Waiting for role${roles.length > 1 ? 's' : ''}: ${roles.join(', ')}` : '',
        active.assignee ? `Assigned to ${active.assignee}` : ''
      ].filter(Boolean).join('\n');

      overlays.add(active.element_id, BADGE_TYPE, {
        position: { top: -24, left: 0 },
        html: badge
      });
    }

    return { applied: applied.length, missing };
  }

  return { apply, clear };
}

function asArray(value) {
  return Array.isArray(value) ? value : [];
}
