// Entry point of the supervisor view: sign in with a workspace key, then the
// live board.

import { wireSignIn } from '../shared/key-session.js';
import { Board } from './board.js';

let board = null;

wireSignIn({
  title: 'Supervisor',
  async start(session) {
    board?.stop();
    board = new Board(session);
    await board.start();
  },
  stop() {
    board?.stop();
    board = null;
  },
});
