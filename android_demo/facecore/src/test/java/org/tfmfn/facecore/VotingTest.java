package org.tfmfn.facecore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Random;
import org.junit.Test;

public class VotingTest {
    @Test
    public void votingAcceptsOnlyAfterAgreeingFramesWithinTheWindow() {
        Voting voting = new Voting(3);
        assertEquals(Voting.State.PENDING, voting.vote(1, "ada").state);
        assertEquals(Voting.State.PENDING, voting.vote(1, null).state);
        assertEquals(Voting.State.PENDING, voting.vote(1, "ada").state);
        assertEquals(Voting.State.PENDING, voting.vote(1, "grace").state);
        Voting.Verdict verdict = voting.vote(1, "ada");
        assertEquals(Voting.State.ACCEPTED, verdict.state);
        assertEquals("ada", verdict.person);
        assertEquals(3, verdict.leading);
    }

    @Test
    public void votingForgetsVotesThatLeftTheWindow() {
        Voting voting = new Voting(3);
        for (String vote : new String[] {"ada", "ada", null, "grace", null, "grace"}) {
            assertEquals(Voting.State.PENDING, voting.vote(7, vote).state); // the first two ada votes slid out
        }
        assertEquals(Voting.State.REJECTED, voting.vote(7, null).state);
    }

    @Test
    public void votingDecidesOncePerTrack() {
        Voting voting = new Voting(2);
        voting.vote(1, null);
        assertEquals(Voting.State.REJECTED, voting.vote(1, null).state);
        for (int i = 0; i < 10; i++) {
            Voting.Verdict verdict = voting.vote(1, "ada"); // an impostor who keeps trying gets no new decision
            assertEquals(Voting.State.REJECTED, verdict.state);
            assertNull(verdict.person);
        }
        assertEquals(Voting.State.PENDING, voting.vote(2, "ada").state); // a new track is a new decision
        voting.forget(1);
        assertEquals(Voting.State.PENDING, voting.vote(1, "ada").state);
    }

    @Test
    public void votingDecisionFarFromThePerPairRate() {
        double[] far = Voting.decisionFar(1e-3, 3, 1);
        assertEquals(1e-3, far[0], 0);
        // 3 of 5 independent frames: C(5,3) p^3 (1-p)^2 + C(5,4) p^4 (1-p) + p^5
        double p = 1e-3;
        assertEquals(10 * p * p * p * (1 - p) * (1 - p) + 5 * Math.pow(p, 4) * (1 - p) + Math.pow(p, 5), far[1], 1e-20);
        assertEquals(20 * 1e-4, Voting.decisionFar(1e-4, 3, 20)[0], 1e-15); // 1:N: every enrolled person compared
        assertEquals(1.0, Voting.decisionFar(0.1, 1, 50)[0], 0);
        assertEquals("a decision: 3 of 5 frames agree; FAR <= 1e-3 per decision (one person compared), 1e-8 if "
                + "frames were independent", Voting.describe(1e-3, 3, 1));
    }

    /**
     * SYNTHETIC recorded score sequences: 2,000 impostor tracks of 60 frames (two seconds at 30 fps), each
     * frame's squared distance drawn so that one frame in 100 falls below the threshold. Deciding on every
     * frame (the app before voting) accepts most impostors within their two seconds; one decision per track
     * accepts as many as one pair comparison would, or fewer.
     */
    @Test
    public void votingOnRecordedImpostorSequencesAcceptsNoMoreThanOneComparison() {
        Random random = new Random(11);
        double threshold = 1.0, perFrame = 0.01;
        int tracks = 2000, frames = 60, everyFrameAccepts = 0, votingAccepts = 0;
        for (int track = 0; track < tracks; track++) {
            Voting voting = new Voting(Voting.AGREE);
            boolean acceptedOnAFrame = false;
            Voting.Verdict verdict = null;
            for (int frame = 0; frame < frames; frame++) {
                double distance = random.nextDouble() < perFrame ? threshold - 0.1 : threshold + 0.2 * random.nextDouble();
                acceptedOnAFrame |= distance < threshold;
                verdict = voting.vote(track, distance < threshold ? "ada" : null);
            }
            everyFrameAccepts += acceptedOnAFrame ? 1 : 0;
            votingAccepts += verdict.state == Voting.State.ACCEPTED ? 1 : 0;
        }
        assertTrue("per frame: " + everyFrameAccepts, everyFrameAccepts > 0.4 * tracks); // 1 - 0.99^60 = 45%; 858 here
        assertTrue("voting: " + votingAccepts, votingAccepts <= perFrame * tracks);
    }

    /** SYNTHETIC genuine sequences: a person who matches on 90% of frames is accepted within the window. */
    @Test
    public void votingAcceptsAGenuineFaceWithinAFewFrames() {
        Random random = new Random(5);
        int accepted = 0;
        for (int track = 0; track < 500; track++) {
            Voting voting = new Voting(Voting.AGREE);
            Voting.Verdict verdict = null;
            int frame = 0;
            do {
                verdict = voting.vote(track, random.nextDouble() < 0.9 ? "ada" : null);
                frame++;
            } while (verdict.state == Voting.State.PENDING);
            accepted += verdict.state == Voting.State.ACCEPTED && frame <= 2 * Voting.AGREE - 1 ? 1 : 0;
        }
        assertTrue("accepted " + accepted, accepted >= 485); // P(at least 3 of 5) = 0.991: 496 expected
    }
}
