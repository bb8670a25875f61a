/**
 * Colour a process diagram by one figure per step (the analytics heatmap).
 *
 * Heat JSON (from `data-heatmap-url`):
 *   { "figure": "total_median", "label": "Total time, median",
 *     "unit": "seconds" | "share" | "count", "values": { "elementId": 3600, ... } }
 *
 * Each step with a value is filled from green (lowest) to red (highest) and gets
 * an overlay `.baton-heat-value` with the number as people read it; the legend
 * box names the figure and the range. Colours go through the CSSOM (CSP-safe).
 */

const OVERLAY_TYPE = 'baton-heat-value';

export function formatValue(value, unit) {
  if (unit === 'share') {
    return `${Math.round(value * 100)} %`;
  }

  if (unit !== 'seconds') {
    return String(value);
  }

  const seconds = Math.round(value);
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);

  if (days) {
    return hours ? `${days} d ${hours} h` : `${days} d`;
  }

  if (hours) {
    return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  }

  return minutes ? `${minutes} min` : `${seconds % 60} s`;
}

function colour(share) {
  return `hsl(${Math.round(120 * (1 - share))}, 75%, 75%)`;
}

/**
 * @return {{ painted: string[] }}
 */
export function paintHeatmap(viewer, heat, legend) {
  const overlays = viewer.get('overlays');
  const elementRegistry = viewer.get('elementRegistry');

  overlays.remove({ type: OVERLAY_TYPE });

  const entries = Object.entries((heat && heat.values) || {});
  const numbers = entries.map(([ , value ]) => value);
  const low = Math.min(...numbers);
  const high = Math.max(...numbers);
  const painted = [];

  for (const [ id, value ] of entries) {
    const element = elementRegistry.get(id);

    if (!element) {
      continue;
    }

    const share = high > low ? (value - low) / (high - low) : 0;
    const shape = elementRegistry.getGraphics(element).querySelector('.djs-visual > rect');

    if (shape) {
      shape.style.fill = colour(share);
    }

    const badge = document.createElement('div');

    badge.className = OVERLAY_TYPE;
    badge.dataset.element = id;
    badge.textContent = formatValue(value, heat.unit);

    overlays.add(id, OVERLAY_TYPE, { position: { bottom: 18, right: 96 }, html: badge });
    painted.push(id);
  }

  if (legend) {
    legend.textContent = '';

    const title = document.createElement('strong');
    title.textContent = heat.label;
    legend.append(title);

    if (entries.length) {
      const from = document.createElement('span');
      const scale = document.createElement('span');
      const to = document.createElement('span');

      from.textContent = `low ${formatValue(low, heat.unit)}`;
      scale.className = 'scale';
      to.textContent = `high ${formatValue(high, heat.unit)}`;
      legend.append(from, scale, to);
    } else {
      const none = document.createElement('span');

      none.textContent = 'no completed steps yet';
      legend.append(none);
    }
  }

  return { painted };
}
