/**
 * Splitting a pool (or a lane) into lanes keeps every step inside one lane. bpmn-js divides the area
 * into equal bands and leaves the shapes where they were, so a task drawn across the middle of a pool
 * ends up on the border between two lanes: it belongs to the lane of its centre, which the drawing no
 * longer shows, and whoever reads the diagram guesses who does it. Right after the split, in the same
 * undo step, each shape that crosses a border moves into the lane of its centre (attached events and
 * labels go with it). A shape taller than its lane is left where it is.
 */
import CommandInterceptor from 'diagram-js/lib/command/CommandInterceptor';
import { getChildLanes } from 'bpmn-js/lib/features/modeling/util/LaneUtil';
import { isHorizontal } from 'bpmn-js/lib/util/DiUtil';

const MARGIN = 10;   // room kept between a moved shape and its lane's border

function participantOf(shape) {
  let element = shape;

  while (element && element.type !== 'bpmn:Participant') {
    element = element.parent;
  }
  return element;
}

function isStep(element) {
  return !element.waypoints && !element.labelTarget && !element.host && element.type !== 'bpmn:Lane';
}

/** How far `shape` must move along `axis` to sit inside `lane`; 0 when it already does or cannot. */
function shiftInto(shape, lane, axis, size) {
  const start = lane[axis] + MARGIN, end = lane[axis] + lane[size] - MARGIN;

  if (shape[size] > end - start) {
    return 0;
  }
  if (shape[axis] < start) {
    return start - shape[axis];
  }
  if (shape[axis] + shape[size] > end) {
    return end - (shape[axis] + shape[size]);
  }
  return 0;
}

function LaneFit(eventBus, modeling) {
  CommandInterceptor.call(this, eventBus);

  this.postExecuted('lane.split', ({ context }) => {
    const lanes = getChildLanes(context.shape);
    const participant = participantOf(context.shape);

    if (!lanes.length || !participant) {
      return;
    }

    const horizontal = isHorizontal(context.shape);
    const axis = horizontal ? 'y' : 'x', size = horizontal ? 'height' : 'width';

    participant.children.filter(isStep).forEach((shape) => {
      const centre = shape[axis] + shape[size] / 2;
      const lane = lanes.find((l) => centre >= l[axis] && centre < l[axis] + l[size]);
      const shift = lane ? shiftInto(shape, lane, axis, size) : 0;

      if (shift) {
        modeling.moveElements([ shape ], horizontal ? { x: 0, y: shift } : { x: shift, y: 0 });
      }
    });
  });
}

LaneFit.prototype = Object.create(CommandInterceptor.prototype);
LaneFit.$inject = [ 'eventBus', 'modeling' ];

export default {
  __init__: [ 'laneFit' ],
  laneFit: [ 'type', LaneFit ]
};
